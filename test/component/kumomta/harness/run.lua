--[[
Runs a mailkind KumoMTA policy under plain lua5.4 with the strict stand-ins of harness/kumo.lua and
harness/policy_extras.lua, then prints one JSON document of what the policy registered and how its
event handlers answered the given test inputs. This proves the policy's logic and its use of
documented names and options, not KumoMTA's behaviour.

  lua5.4 run.lua kumod <init.lua> [case ...]
  lua5.4 run.lua tsa <tsa_init.lua>

kumod cases (each may repeat):
  --queue DOMAIN                    get_queue_config, then get_egress_path_config for its site
  --listener-domain LISTEN DOMAIN   get_listener_domain
  --rcpt LISTEN ADDRESS             smtp_server_rcpt_to on the listener with that listen address
  --smtp-message LISTEN RECIPIENT   smtp_server_message_received
  --http-message RECIPIENT          http_message_generated
  --auth USER PASSWORD              http_server_validate_auth_basic
  --auth-no-password USER           the same, with no password
  --log-record TYPE RECIPIENT       every disposition hook, with a fake log record
  --shaping-param KEY VALUE         a value the shaping stand-in returns as if from shaping.toml/TSA
  --conformance-result TEXT         what message:check_fix_conformance returns in later cases
  --validating                      run as under `kumod --validate` (_VALIDATING_CONFIG = true)

Every registered handler runs at least once (a default input for events no case fires); a handler
for an event the runner cannot drive fails the run, as does an error in a default drive.

Exit status 0 with "ok": true; 1 with "ok": false when loading or an init event fails; 2 on bad usage.
]]
local HARNESS = arg[0]:match('^(.*[/\\])') or './'
package.loaded.json = dofile(HARNESS .. 'json.lua')
local json = package.loaded.json
local standin = dofile(HARNESS .. 'kumo.lua')
local extras = dofile(HARNESS .. 'policy_extras.lua')

local mode, policy_path = arg[1], arg[2]
if (mode ~= 'kumod' and mode ~= 'tsa') or not policy_path then
  io.stderr:write('usage: lua5.4 run.lua kumod|tsa <policy.lua> [case ...]\n')
  os.exit(2)
end

local kumo, tsa, state = standin.new(mode)
state.stdout = {}

-- the pod's /opt/kumomta/etc/policy is the policy file's directory (the ConfigMap)
standin.policy_dir = policy_path:match('^(.*[/\\])') or './'

-- kumod prefixes package.path with /opt/kumomta/etc/policy/?.lua (crates/config/src/lib.rs), so
-- the policy may require its sibling files; besides those, only the modules below exist
package.path, package.cpath = standin.policy_dir .. '?.lua', ''
package.preload['kumo'] = function()
  return kumo
end
if mode == 'tsa' then
  package.preload['tsa'] = function()
    return tsa
  end
else
  local shaping, log_hooks = extras.new(kumo, state, standin)
  package.preload['policy-extras.shaping'] = function()
    shaping.__on_require()
    return shaping
  end
  package.preload['policy-extras.log_hooks'] = function()
    return log_hooks
  end
end

local output = { ok = true, mode = mode }

local function finish()
  output.logs = state.logs
  output.stdout = state.stdout
  output.ignored_options = standin.ignored
  output.kumomta_tag = standin.KUMOMTA_TAG
  io.stdout:write(json.encode(output), '\n')
  os.exit(output.ok and 0 or 1)
end

local function stopped(phase, err)
  output.ok = false
  output.phase = phase
  output.error = tostring(err)
  finish()
end

-- stand-in objects and functions -> plain data
local function plain(v)
  if type(v) == 'function' then
    return '<function>'
  elseif type(v) ~= 'table' then
    return v
  end
  -- rawget: some stand-in objects are strict
  if rawget(v, '__standin') ~= nil and rawget(v, 'params') ~= nil then
    return { kind = v.__standin, params = plain(v.params) }
  end
  local out = {}
  for k, x in pairs(v) do
    out[k] = plain(x)
  end
  return out
end

-- call an event and describe the outcome
local function outcome(name, ...)
  local ok, result, handled = pcall(state.fire, name, ...)
  if ok then
    return { handled = handled, result = plain(result) }, result
  end
  if type(result) == 'table' and result.code then
    return { rejected = { code = result.code, message = result.message } }
  end
  return { error = tostring(result) }
end

-------------------------------------------------------------------------------
-- load the policy (top level), with print captured

-- --validating: the global kumod sets only under --validate (crates/config/src/lib.rs load_config)
local validating = false
for n = 3, #arg do
  if arg[n] == '--validating' then
    validating = true
  end
end

local env = setmetatable({
  _VALIDATING_CONFIG = validating or nil,
  print = function(...)
    local parts = table.pack(...)
    for i = 1, parts.n do
      parts[i] = tostring(parts[i])
    end
    table.insert(state.stdout, table.concat(parts, '\t', 1, parts.n))
  end,
}, { __index = _G })

local chunk, load_err = loadfile(policy_path, 't', env)
if not chunk then
  stopped('load', load_err)
end
local loaded, err = pcall(chunk)
if not loaded then
  stopped('load', err)
end

local function registered()
  local events = {}
  for name, list in pairs(state.handlers) do
    events[name] = #list
  end
  local custom = {}
  for name in pairs(state.custom) do
    custom[#custom + 1] = name
  end
  table.sort(custom)
  output.events, output.custom_events = events, custom
end

-------------------------------------------------------------------------------
-- tsa-daemon: shaping data is loaded once before tsa_init (crates/tsa-daemon/src/main.rs)

if mode == 'tsa' then
  registered()
  output.shaping_data = {}
  local function load_data(phase)
    local ok, data = pcall(state.fire, 'tsa_load_shaping_data')
    if not ok then
      stopped(phase, data)
    end
    table.insert(output.shaping_data, plain(data))
  end
  load_data('tsa_load_shaping_data')
  local ok, init_err = pcall(state.fire, 'tsa_init')
  if not ok then
    stopped('tsa_init', init_err)
  end
  load_data('tsa_load_shaping_data')
  output.tsa_db_path = state.tsa_db_path
  output.http_listeners = state.tsa_http_listeners
  output.shaping_loads = state.shaping_loads
  output.memoized = state.memoized
  finish()
end

-------------------------------------------------------------------------------
-- kumod: pre_init, init, then the cases

-- `kumod --validate` runs pre_init, init, then validate_config (crates/kumod/src/main.rs
-- perform_init); the live start skips the last one, so the harness runs it like --validate does
-- and reports what would fail validation
for _, phase in ipairs { 'pre_init', 'init', 'validate_config' } do
  local ok, phase_err = pcall(state.fire, phase)
  if not ok then
    stopped(phase, phase_err)
  end
end
if #state.validation_errors > 0 then
  stopped('validate_config', table.concat(state.validation_errors, '; '))
end
registered()
output.esmtp_listeners = state.esmtp_listeners
output.http_listeners = state.http_listeners
output.spools = state.spools
output.local_logs = state.local_logs
output.redis_throttles = state.redis_throttles
output.shaping = plain(state.shaping)
output.disposition_hooks = state.disposition_hooks
output.init_calls = state.init_calls

local function address(text)
  local user, domain = text:match('^(.*)@([^@]+)$')
  -- docs/reference/address/: user, domain, email
  return standin.strict('EnvelopeAddress', { user = user or text, domain = domain or '', email = text })
end

local function meta_object(name, meta, sets)
  return standin.strict(name, {
    get_meta = function(_self, key)
      return meta[key]
    end,
    set_meta = function(_self, key, value)
      meta[key] = value
      table.insert(sets, { key = key, value = plain(value) })
    end,
  })
end

local function listener(listen)
  for _, params in ipairs(state.esmtp_listeners) do
    if params.listen == listen then
      return params
    end
  end
  return nil
end

-- what kumod puts in a session's connection metadata (docs/reference/connectionmeta.md),
-- plus the listener's `meta` option
local function connection(listen)
  local params = listener(listen)
  if not params then
    return nil
  end
  local port = listen:match(':(%d+)$')
  local meta = standin.copy(params.meta or {})
  meta.reception_protocol = 'ESMTP'
  meta.received_via = '10.244.0.10:' .. port
  meta.received_from = '10.244.0.99:40000'
  meta.hostname = 'kumomta-0'
  return meta
end

local function check_conformance_set(value, what)
  if type(value) ~= 'string' then
    error(string.format('check_fix_conformance: %s must be a string', what), 0)
  end
  for item in value:gmatch('[^|]+') do
    if not standin.CONFORMANCE_ISSUES[item] then
      error(string.format("check_fix_conformance: '%s' in %s is not a documented issue", item, what), 0)
    end
  end
end

local function message(recipient, meta)
  local calls, sets = {}, {}
  local rcpt = address(recipient)
  local fields = {
    check_fix_conformance = function(_self, checks, fixes, settings)
      check_conformance_set(checks, 'CHECKS')
      check_conformance_set(fixes, 'FIXES')
      if settings ~= nil and type(settings) ~= 'table' then
        error('check_fix_conformance: settings must be a table', 0)
      end
      table.insert(calls, { checks = checks, fixes = fixes })
      -- the real method returns an error string instead of raising (crates/message/src/message.rs)
      return state.conformance_result
    end,
    recipient = function()
      return rcpt
    end,
    recipient_list = function()
      return { rcpt }
    end,
    sender = function()
      return address('sender@example.test')
    end,
    get_data = function()
      return 'Subject: test\r\n\r\nbody\r\n'
    end,
  }
  local base = meta_object('Message', meta, sets)
  for k, v in pairs(fields) do
    rawset(base, k, v)
  end
  return base, calls, sets
end

local function take(flag, count, i)
  local values = {}
  for n = 1, count do
    local v = arg[i + n]
    if v == nil then
      io.stderr:write(string.format('run.lua: %s needs %d argument(s)\n', flag, count))
      os.exit(2)
    end
    values[n] = v
  end
  return values
end

local function scalar(text)
  if text == 'true' then
    return true
  elseif text == 'false' then
    return false
  elseif text:match('^%d+$') then
    return math.tointeger(tonumber(text))
  end
  return text
end

-- the site name kumod derives for a scheduled queue (crates/kumod/src/ready_queue.rs
-- compute_queue_name; MxListEntry::label in crates/kumod/src/smtp_dispatcher.rs)
local function site_name(domain, params)
  local protocol = params.protocol or {}
  if protocol.smtp then
    local labels = {}
    for _, entry in ipairs(protocol.smtp.mx_list or {}) do
      labels[#labels + 1] = type(entry) == 'table' and entry.addr or entry
    end
    if #labels == 0 then
      return nil, 'MX resolution of ' .. domain .. ' (not modelled)'
    end
    return 'mx_list:' .. table.concat(labels, ',')
  end
  return domain
end

local function queue_case(domain)
  local case = { domain = domain }
  local described, config = outcome('get_queue_config', domain, nil, nil, nil)
  case.outcome = described
  if type(config) ~= 'table' or config.__standin ~= 'QueueConfig' then
    if described.result ~= nil then
      case.outcome = { error = 'get_queue_config did not return kumo.make_queue_config(...)' }
    end
    return case
  end
  local params = config.params
  local summary = {}
  for _, key in ipairs { 'retry_interval', 'max_retry_interval', 'max_age' } do
    if params[key] ~= nil then
      summary[key .. '_seconds'] = standin.parse_duration(params[key])
    end
  end
  if params.max_message_rate then
    summary.max_message_rate = standin.parse_throttle(params.max_message_rate)
  end
  local protocol = params.protocol or { smtp = {} }
  if protocol.smtp then
    summary.protocol = 'smtp'
    summary.mx_list = protocol.smtp.mx_list or {}
  elseif protocol.custom_lua then
    summary.protocol = 'custom_lua'
    summary.constructor = protocol.custom_lua.constructor
  end
  local site, why = site_name(domain, params)
  summary.site_name = site or why
  case.summary = summary
  if site then
    local egress_described, path = outcome('get_egress_path_config', domain, 'unspecified', site)
    if egress_described.result ~= nil and (type(path) ~= 'table' or path.__standin ~= 'EgressPathConfig') then
      egress_described = { error = 'get_egress_path_config did not return kumo.make_egress_path(...)' }
    end
    case.egress = egress_described
  end
  return case
end

local cases = {
  queues = {},
  listener_domains = {},
  rcpt = {},
  smtp_messages = {},
  http_messages = {},
  auth = {},
  log_records = {},
}

local i = 3
while i <= #arg do
  local flag = arg[i]
  if flag == '--validating' then
    i = i + 1
  elseif flag == '--conformance-result' then
    state.conformance_result = take(flag, 1, i)[1]
    i = i + 2
  elseif flag == '--shaping-param' then
    local v = take(flag, 2, i)
    state.shaping_params[v[1]] = scalar(v[2])
    i = i + 3
  elseif flag == '--queue' then
    local v = take(flag, 1, i)
    table.insert(cases.queues, queue_case(v[1]))
    i = i + 2
  elseif flag == '--listener-domain' then
    local v = take(flag, 2, i)
    local meta = connection(v[1]) or {}
    local described = outcome('get_listener_domain', v[2], v[1], meta_object('ConnectionMeta', meta, {}))
    table.insert(cases.listener_domains, { listener = v[1], domain = v[2], outcome = described })
    i = i + 3
  elseif flag == '--rcpt' then
    local v = take(flag, 2, i)
    local meta = connection(v[1])
    local case = { listener = v[1], address = v[2] }
    if not meta then
      case.outcome = { error = 'no esmtp listener with listen = ' .. v[1] }
    else
      case.outcome = outcome('smtp_server_rcpt_to', address(v[2]), meta_object('ConnectionMeta', meta, {}))
    end
    table.insert(cases.rcpt, case)
    i = i + 3
  elseif flag == '--smtp-message' then
    local v = take(flag, 2, i)
    local meta = connection(v[1])
    local case = { listener = v[1], recipient = v[2] }
    if not meta then
      case.outcome = { error = 'no esmtp listener with listen = ' .. v[1] }
    else
      local msg, calls, sets = message(v[2], standin.copy(meta))
      case.outcome = outcome('smtp_server_message_received', msg, meta_object('ConnectionMeta', meta, {}))
      case.conformance, case.meta_set = calls, sets
    end
    table.insert(cases.smtp_messages, case)
    i = i + 3
  elseif flag == '--http-message' then
    local v = take(flag, 1, i)
    local meta = { http_auth = 'user', reception_protocol = 'HTTP', received_from = '10.244.0.1:50000' }
    local msg, calls, sets = message(v[1], meta)
    local case = { recipient = v[1] }
    case.outcome = outcome('http_message_generated', msg, { identities = {}, groups = {} })
    case.conformance, case.meta_set = calls, sets
    table.insert(cases.http_messages, case)
    i = i + 2
  elseif flag == '--auth' or flag == '--auth-no-password' then
    local v = take(flag, flag == '--auth' and 2 or 1, i)
    local described = outcome('http_server_validate_auth_basic', v[1], v[2])
    table.insert(cases.auth, { user = v[1], password = v[2] or json.null, outcome = described })
    i = i + (flag == '--auth' and 3 or 2)
  elseif flag == '--log-record' then
    local v = take(flag, 2, i)
    local domain = v[2]:match('@(.+)$') or ''
    -- a few fields of a log record (docs/reference/log_record.md)
    local record = {
      type = v[1],
      id = '0123456789abcdef0123456789abcdef',
      sender = 'sender@example.test',
      recipient = { v[2] },
      queue = domain,
      site = 'unspecified->mx_list:example@smtp_client',
      size = 1234,
      response = { code = 250, content = 'OK', command = 'DATA' },
      timestamp = 1767225600,
      reception_protocol = 'ESMTP',
    }
    for _, hook in ipairs(state.disposition_hooks) do
      local before = #state.stdout
      local msg = message(v[2], {})
      local described = outcome('log_disposition_' .. hook.name, msg, record)
      local lines = {}
      for n = before + 1, #state.stdout do
        lines[#lines + 1] = state.stdout[n]
      end
      table.insert(cases.log_records, { hook = hook.name, type = v[1], outcome = described, stdout = lines })
    end
    i = i + 3
  else
    io.stderr:write('run.lua: unknown argument ' .. tostring(flag) .. '\n')
    os.exit(2)
  end
end

-------------------------------------------------------------------------------
-- Every registered handler runs at least once: an event no case above fired gets a default
-- input, and one the harness cannot drive fails the run (a handler that never runs is unchecked).

local function first_listener()
  local params = state.esmtp_listeners[1]
  return params and params.listen
end

local DEFAULT_DRIVERS = {
  get_queue_config = function()
    return queue_case('example.com').outcome
  end,
  get_egress_path_config = function()
    return outcome('get_egress_path_config', 'example.com', 'unspecified', 'mx_list:example.com')
  end,
  get_listener_domain = function()
    local listen = first_listener() or '0.0.0.0:25'
    return outcome('get_listener_domain', 'example.com', listen, meta_object('ConnectionMeta', connection(listen) or {}, {}))
  end,
  smtp_server_rcpt_to = function()
    local listen = first_listener()
    return outcome('smtp_server_rcpt_to', address('someone@example.com'), meta_object('ConnectionMeta', connection(listen) or {}, {}))
  end,
  smtp_server_message_received = function()
    local listen = first_listener()
    local meta = connection(listen) or {}
    return outcome('smtp_server_message_received', (message('someone@example.com', standin.copy(meta))), meta_object('ConnectionMeta', meta, {}))
  end,
  http_message_generated = function()
    return outcome('http_message_generated', (message('someone@example.com', {})), { identities = {}, groups = {} })
  end,
  http_server_validate_auth_basic = function()
    return outcome('http_server_validate_auth_basic', 'nobody', 'wrong')
  end,
  should_enqueue_log_record = function()
    return outcome('should_enqueue_log_record', (message('someone@example.com', {})), 'some-hook')
  end,
}

local function default_record(recipient)
  return {
    type = 'Delivery',
    id = '0123456789abcdef0123456789abcdef',
    sender = 'sender@example.test',
    recipient = { recipient },
    queue = 'example.com',
    site = 'unspecified->mx_list:example@smtp_client',
    size = 1234,
    response = { code = 250, content = 'OK', command = 'DATA' },
    timestamp = 1767225600,
    reception_protocol = 'ESMTP',
  }
end

local function driver_for(name)
  if DEFAULT_DRIVERS[name] then
    return DEFAULT_DRIVERS[name]
  end
  if name:match('^log_disposition_') then
    return function()
      return outcome(name, (message('someone@example.com', {})), default_record('someone@example.com'))
    end
  end
  if name:match('^make%.') then
    -- a custom_lua protocol constructor: called with (domain, tenant, campaign)
    return function()
      return outcome(name, 'example.com', nil, nil)
    end
  end
  return nil
end

local registered_names = {}
for name in pairs(state.handlers) do
  registered_names[#registered_names + 1] = name
end
for name in pairs(state.custom) do
  registered_names[#registered_names + 1] = name
end
table.sort(registered_names)
output.default_drives, output.undriven = {}, {}
for _, name in ipairs(registered_names) do
  if not state.driven[name] then
    local drive = driver_for(name)
    if not drive then
      output.undriven[#output.undriven + 1] = name
    else
      local described = drive()
      output.default_drives[name] = described
      if described.error then
        output.cases = cases
        stopped('drive ' .. name, described.error)
      end
    end
  end
end
if #output.undriven > 0 then
  output.cases = cases
  stopped('drive', 'registered events the harness cannot drive (add a driver to harness/run.lua): ' .. table.concat(output.undriven, ', '))
end

output.cases = cases
finish()
