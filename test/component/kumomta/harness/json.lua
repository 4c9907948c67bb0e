-- A small JSON encoder for the harness output (deterministic: object keys sorted).
-- Tables whose keys are exactly 1..n encode as arrays; an empty table encodes as [].
-- Functions and other non-data values encode as a descriptive string.
local json = {}

json.null = setmetatable({}, { __tostring = function() return 'null' end })

local escapes = {
  ['"'] = '\\"',
  ['\\'] = '\\\\',
  ['\b'] = '\\b',
  ['\f'] = '\\f',
  ['\n'] = '\\n',
  ['\r'] = '\\r',
  ['\t'] = '\\t',
}

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format('\\u%04x', c:byte())
  end) .. '"'
end

local function is_array(t)
  local n = 0
  for k in pairs(t) do
    if math.type(k) ~= 'integer' or k < 1 then
      return false
    end
    n = n + 1
  end
  for i = 1, n do
    if t[i] == nil then
      return false
    end
  end
  return true
end

local function encode(value, seen)
  local kind = type(value)
  if value == nil or value == json.null then
    return 'null'
  elseif kind == 'boolean' then
    return tostring(value)
  elseif kind == 'number' then
    if math.type(value) == 'integer' then
      return tostring(value)
    elseif value ~= value or value == math.huge or value == -math.huge then
      return 'null'
    end
    return string.format('%.14g', value)
  elseif kind == 'string' then
    return encode_string(value)
  elseif kind == 'table' then
    if seen[value] then
      error('json: cycle in table')
    end
    seen[value] = true
    local out = {}
    if is_array(value) then
      for i = 1, #value do
        out[i] = encode(value[i], seen)
      end
      seen[value] = nil
      return '[' .. table.concat(out, ',') .. ']'
    end
    local keys = {}
    for k in pairs(value) do
      keys[#keys + 1] = tostring(k)
    end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = value[k]
      if v == nil then
        v = value[tonumber(k)]
      end
      out[#out + 1] = encode_string(k) .. ':' .. encode(v, seen)
    end
    seen[value] = nil
    return '{' .. table.concat(out, ',') .. '}'
  end
  return encode_string('<' .. kind .. '>')
end

function json.encode(value)
  return encode(value, {})
end

-- shared with the strict kumo stand-in (harness/kumo.lua), which needs the same test
json.is_array = is_array

return json
