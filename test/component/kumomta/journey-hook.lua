--[[
Drives mailkind's journey log hook (manifests/base/policy/kumomta/journey.lua, loaded by init.lua)
under plain lua5.4 with the strict stand-ins of harness/ (used as they are), and prints one JSON
document: how the hook was registered, what its should_enqueue_log_record filter answers for every
record type, and what one batch POSTs and how the answer becomes a disposition or a rejection.

  lua5.4 journey-hook.lua <init.lua> [--cost N]

With MAILKIND_JOURNEY_HOOK=off in the environment the policy registers no hook: the document then
ends after `hooks` (an empty list).

With --cost N it also measures, in CPU time (os.clock), what the hook adds to the policy's Lua per
log record, beside a peer in the same run: N records through should_enqueue_log_record for the
hook the stack already has (the TSA publish hook), then the same N records with the journey hook's
filter and its send_batch (one per 100 records) added; five rounds, alternating, medians. The
Lua side only, under these stand-ins: kumod's own work per record (building the log message,
queueing, the HTTP client) is Rust and is not in it, and the JSON encoding is the harness's pure
Lua json.lua standing in for kumo.serde.json_encode (Rust serde), so the batch part is an upper bound.

kumo.http is not modelled by harness/kumo.lua; the stand-in below follows
docs/reference/kumo.http/build_client.md and Request.md / Response.md (KumoCorp/kumomta at tag
2026.06.23-f3af1cd0): build_client{...}, client:post(url), request:header(k, v), request:body(s),
request:send() -> response:status_code(), status_reason(), status_is_success(), text(); a failed
connection raises a Lua error.
]]
local DIR = arg[0]:match('^(.*[/\\])') or './'
local HARNESS = DIR .. 'harness/'
package.loaded.json = dofile(HARNESS .. 'json.lua')
local json = package.loaded.json
local standin = dofile(HARNESS .. 'kumo.lua')
local extras = dofile(HARNESS .. 'policy_extras.lua')

local policy_path = arg[1]
if not policy_path then
  io.stderr:write('usage: lua5.4 journey-hook.lua <init.lua>\n')
  os.exit(2)
end

local kumo, _, state = standin.new('kumod')
state.stdout = {}

-- kumo.http stand-in: records every request, answers with `http.answer`
local http = { requests = {}, clients = {}, answer = { status = 200, reason = 'OK', text = '{"accepted":3}' } }
local CLIENT_OPTIONS = {
  user_agent = function() end,
  connection_verbose = function() end,
  pool_idle_timeout = function() end,
  timeout = function(v, where)
    if standin.parse_duration(v) == nil then
      error(string.format('%s: %q is not a duration', where, tostring(v)), 0)
    end
  end,
  accept_invalid_certs = function() end,
}
rawset(kumo, 'http', standin.strict('kumo.http', {
  build_client = function(params)
    standin.check_options('kumo.http.build_client', CLIENT_OPTIONS, params or {})
    table.insert(http.clients, standin.copy(params or {}))
    local client = { closed = false }
    function client.post(_self, url)
      local req = { method = 'POST', url = url, headers = {}, body = nil }
      local request = {}
      function request.header(self, k, v)
        req.headers[k] = v
        return self
      end
      function request.body(self, b)
        req.body = b
        return self
      end
      function request.send(_self)
        table.insert(http.requests, req)
        local a = http.answer
        if a.raise then
          error(a.raise, 0)
        end
        return standin.strict('Response', {
          status_code = function()
            return a.status
          end,
          status_reason = function()
            return a.reason
          end,
          status_is_success = function()
            return a.status >= 200 and a.status < 300
          end,
          text = function()
            return a.text
          end,
        })
      end
      return standin.strict('Request', request)
    end
    function client.close(self)
      self.closed = true
    end
    return client
  end,
}))

-- the policy as kumod loads it: its directory on package.path, the helpers preloaded
package.path, package.cpath = (policy_path:match('^(.*[/\\])') or './') .. '?.lua', ''
local shaping, log_hooks = extras.new(kumo, state, standin)
package.preload['kumo'] = function()
  return kumo
end
package.preload['policy-extras.shaping'] = function()
  return shaping
end
package.preload['policy-extras.log_hooks'] = function()
  return log_hooks
end

local output = { ok = true }
local function finish()
  io.stdout:write(json.encode(output), '\n')
  os.exit(output.ok and 0 or 1)
end
local function stopped(phase, err)
  output.ok, output.phase, output.error = false, phase, tostring(err)
  finish()
end

local env = setmetatable({ print = function() end }, { __index = _G })
local chunk, load_err = loadfile(policy_path, 't', env)
if not chunk then
  stopped('load', load_err)
end
local loaded, err = pcall(chunk)
if not loaded then
  stopped('load', err)
end
for _, phase in ipairs { 'pre_init', 'init' } do
  local ok, phase_err = pcall(state.fire, phase)
  if not ok then
    stopped(phase, phase_err)
  end
end

output.hooks = state.log_hooks
if #state.log_hooks == 0 then
  finish()
end

-- the queue the hook's records go to
local ok_q, config = pcall(state.fire, 'get_queue_config', 'journey.log_hook', nil, nil, nil)
output.queue = ok_q and config and config.params or { error = tostring(config) }

-- a log message as kumod makes it for a record (should_enqueue_log_record.md): the record in the
-- `log_record` meta, its JSON as the body
local function log_message(record)
  local meta = { log_record = record, reception_protocol = 'LogRecord' }
  local sets = {}
  local msg = standin.strict('Message', {
    get_meta = function(_self, key)
      return meta[key]
    end,
    set_meta = function(_self, key, value)
      meta[key] = value
      sets[key] = value
    end,
    get_data = function()
      return json.encode(record)
    end,
  })
  return msg, sets
end

local function record(type_, reception_protocol, queue)
  return {
    type = type_,
    id = '1d98076abbbc11ed940250ebf67f93bd',
    sender = 'sender@example.test',
    recipient = 'tempfail-2@example.test',
    queue = queue or 'example.test',
    site = '',
    timestamp = 1767225600,
    event_time = '2026-01-01T00:00:00.000Z',
    reception_protocol = reception_protocol,
    headers = { ['Message-ID'] = '<m1@example.test>', ['X-Mailkind-Run'] = 'run-1' },
    response = { code = 250, content = 'OK', command = '.' },
  }
end

-- filter: every documented record type of ordinary mail, then the loop cases
output.filter = {}
local TYPES = { 'Reception', 'Delivery', 'Bounce', 'TransientFailure', 'Expiration', 'AdminBounce', 'OOB', 'Feedback', 'Rejection', 'AdminRebind', 'DeferredInjectionRebind', 'Delayed', 'XferOut', 'XferIn' }
local function ask(name, rec, hook)
  local msg, sets = log_message(rec)
  local ok, result = pcall(state.fire, 'should_enqueue_log_record', msg, hook)
  local enqueue = json.null
  if ok and result ~= nil then
    enqueue = result
  end
  table.insert(output.filter, { case = name, hook = hook, enqueue = enqueue, error = (not ok) and tostring(result) or nil, queue = sets.queue })
end
for _, t in ipairs(TYPES) do
  ask(t, record(t, 'ESMTP'), 'journey')
end
ask('HTTP injection', record('Reception', 'HTTP'), 'journey')
-- the hook's own delivery of a batch: its record is about a LogRecord message
ask("the hook's own Delivery", record('Delivery', 'LogRecord', 'journey.log_hook'), 'journey')
ask("the hook's own TransientFailure", record('TransientFailure', 'LogRecord', 'journey.log_hook'), 'journey')
ask('a TSA publish record', record('Delivery', 'LogRecord', 'tsa.kumomta'), 'journey')
-- the same mail record asked for the TSA hook: not ours to answer
local tsa_hook = state.shaping and state.shaping.hook_queues[1]
if tsa_hook then
  ask('a record for the TSA hook', record('Delivery', 'ESMTP'), tsa_hook)
end

-- batching: one connection, one POST per batch
local constructor = state.custom['make.journey.log_hook']
local connection = constructor('journey.log_hook', nil, nil)
output.connection_methods = {}
for k, v in pairs(connection) do
  if type(v) == 'function' then
    table.insert(output.connection_methods, k)
  end
end
table.sort(output.connection_methods)

local function batch(n)
  local messages = {}
  for i = 1, n do
    messages[i] = (log_message(record(i % 2 == 0 and 'Delivery' or 'Reception', 'ESMTP')))
  end
  return messages
end

output.batches = {}
local function send(name, n, answer)
  http.answer = answer
  local before = #http.requests
  local ok, result = pcall(connection.send_batch, connection, batch(n))
  local case = { case = name, requests = #http.requests - before }
  if ok then
    case.disposition = result
  elseif type(result) == 'table' and result.code then
    case.rejected = { code = result.code, message = result.message }
  else
    case.error = tostring(result)
  end
  local req = http.requests[#http.requests]
  if req and case.requests > 0 then
    case.url, case.headers, case.body = req.url, req.headers, req.body
  end
  table.insert(output.batches, case)
end
send('accepted', 3, { status = 200, reason = 'OK', text = '{"accepted":3}' })
send('sink restarting', 2, { status = 503, reason = 'Service Unavailable', text = 'not ready' })
send('sink refuses the batch', 2, { status = 400, reason = 'Bad Request', text = '{"error":"no valid log record"}' })
send('sink down', 2, { raise = 'error sending request: Connection refused (os error 111)' })
connection:close()
output.http_clients = http.clients

local COST = arg[2] == '--cost' and tonumber(arg[3]) or nil
if COST then
  http.answer = { status = 200, reason = 'OK', text = '{"accepted":100}' }
  local tsa = state.shaping and state.shaping.hook_queues[1]
  local messages = {}
  for i = 1, COST do
    messages[i] = (log_message(record(i % 2 == 0 and 'Delivery' or 'Reception', 'ESMTP')))
  end
  local conn = constructor('journey.log_hook', nil, nil)
  local fire = state.fire
  local function peer()
    local t = os.clock()
    for i = 1, COST do
      if tsa then
        fire('should_enqueue_log_record', messages[i], tsa)
      end
    end
    return os.clock() - t
  end
  local batch_time = 0
  local function with_hook()
    local t = os.clock()
    local pending = {}
    for i = 1, COST do
      if tsa then
        fire('should_enqueue_log_record', messages[i], tsa)
      end
      fire('should_enqueue_log_record', messages[i], 'journey')
      pending[#pending + 1] = messages[i]
      if #pending == 100 or i == COST then
        local b = os.clock()
        conn:send_batch(pending)
        batch_time = batch_time + (os.clock() - b)
        pending = {}
      end
    end
    return os.clock() - t
  end
  local peers, hooks, batches = {}, {}, {}
  for round = 1, 5 do
    peers[round] = peer()
    batch_time = 0
    hooks[round] = with_hook()
    batches[round] = batch_time
  end
  local function median_us(xs)
    table.sort(xs)
    return xs[3] / COST * 1e6
  end
  output.cost = {
    records = COST,
    rounds = 5,
    peer_us_per_record = median_us(peers),
    with_hook_us_per_record = median_us(hooks),
    send_batch_us_per_record = median_us(batches),
    peer_hook = tsa or json.null,
  }
  conn:close()
end
finish()
