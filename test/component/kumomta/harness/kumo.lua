--[[
A strict stand-in for KumoMTA's `kumo` and `tsa` Lua modules, for running mailkind's policy under
plain lua5.4. It proves the policy's logic and that every function, event and option name it uses
is one KumoMTA documents; it does not prove anything about KumoMTA's behaviour.

  * Only documented functions exist. A documented function the harness does not model fails with
    "not modelled" rather than pretending to work; an undocumented name fails as unknown.
  * Every options table is converted the way kumod converts it (config::from_lua_value, mlua's
    serde): per upstream struct (cited per list below, paths in KumoCorp/kumomta at the tag in
    KUMOMTA_TAG), unknown keys are refused where the struct has deny_unknown_fields and ignored
    (but reported) where it does not; an empty table is a map wherever serde reads through
    deserialize_any (a #[serde(flatten)] struct, an untagged enum), so `relay_hosts = {}` fails
    as in kumod; enums take their variant names only; durations, throttles and limits parse as
    kumod parses them; files kumod reads must exist where the pod has them. Errors use serde's
    wording ("invalid type: map, expected a sequence", "unknown field", "unknown variant").
  * kumo.on accepts documented event names only (the real kumo.on takes any string: custom events
    are for helpers, which the stand-ins in policy_extras.lua register through `register_custom`).
    Like kumod (crates/kumo-server-common/src/lib.rs "on"), a second handler for a single-handler
    event and a registration from inside an event handler are errors.
  * Functions the docs say to call "only from inside your init event handler" fail elsewhere.
  * Everything the policy configures is recorded in `state` for the runner to print.
]]
local json = require 'json' -- harness/json.lua (the runner puts it in package.loaded)

local M = {}

-- The KumoMTA release every name, signature, option list and enum below was read from. The test
-- (policy.test.ts) fails when manifests/base/kustomization.yaml pins another tag: re-read the
-- structs cited here at the new tag, update them, then this line.
M.KUMOMTA_TAG = '2026.06.23-f3af1cd0'

-- Where the pod's paths live in the repository (set by run.lua): the ConfigMap mounted at
-- /opt/kumomta/etc/policy holds the files of manifests/base/policy/kumomta/.
M.POD_POLICY_DIR = '/opt/kumomta/etc/policy/'
M.policy_dir = nil
-- files the image ships that the policy may name (assets/install.sh installs policy-extras/ and
-- the bundled shaping data under /opt/kumomta/share)
M.IMAGE_FILES = {
  ['/opt/kumomta/share/policy-extras/shaping.toml'] = true,
}

-------------------------------------------------------------------------------
-- documented names (ls docs/reference/kumo/, docs/reference/events/ at the tag)

local KUMO_FUNCTIONS = {}
for name in ([[
apply_supplemental_trace_header available_parallelism bump_config_epoch
compute_egress_path_config_constraints compute_queue_config_constraints configure_accounting_db_path
configure_bounce_classifier configure_local_logs configure_log_hook configure_redis_throttles
define_spool disconnect eval_config_monitor_globs format_egress_path_config_constraints
format_egress_path_config_toml format_queue_config_toml generate_rfc3464_message
get_memory_hard_limit get_memory_low_thresh get_memory_soft_limit glob inject_message
invoke_get_egress_path_config invoke_get_egress_pool invoke_get_egress_source invoke_get_queue_config
json_encode json_encode_pretty json_load json_parse log_debug log_error log_info log_warn
make_egress_path make_egress_pool make_egress_source make_listener_domain make_message
make_queue_config make_throttle memoize on read_dir reject set_config_monitor_globs
set_diagnostic_log_filter set_httpinject_recipient_rate_limit set_httpinject_threads
set_logging_threads set_lruttl_cache_capacity set_max_lua_context_age set_max_lua_context_use_count
set_max_spare_lua_contexts set_memory_hard_limit set_memory_low_thresh set_memory_soft_limit
set_qmaint_threads set_ready_qmaint_threads set_readyq_threads set_smtpsrv_threads
set_spoolin_threads sleep spawn_task start_esmtp_listener start_http_listener
suspend_delivery_when_spool_unhealthy toml_encode toml_encode_pretty toml_load toml_parse
uncached_glob version
]]):gmatch('%S+') do
  KUMO_FUNCTIONS[name] = true
end

-- docs/reference/kumo.*/ directories
local KUMO_SUBMODULES = {}
for name in ([[
aaa amqp api cidr counter_series crypto digest dkim dns domain_map encode file_type fs http jsonl
kafka mimepart mpsc nats regex_set_map secrets serde shaping spf time uuid xfer
]]):gmatch('%S+') do
  KUMO_SUBMODULES[name] = true
end

-- docs/reference/kumo.serde/
local SERDE_FUNCTIONS = {}
for name in ([[
json_encode json_encode_pretty json_load json_parse toml_encode toml_encode_pretty toml_load
toml_parse yaml_encode yaml_load yaml_parse
]]):gmatch('%S+') do
  SERDE_FUNCTIONS[name] = true
end

-- docs/reference/events/*.md
local KUMOD_EVENTS = {}
for name in ([[
get_acl_definition get_egress_path_config get_egress_pool get_egress_source get_listener_domain
get_queue_config http_message_generated http_server_validate_auth_basic init pre_init
rebind_message requeue_message should_enqueue_log_record shutdown_logging
smtp_client_rewrite_delivery_status smtp_server_auth_plain smtp_server_connection_accepted
smtp_server_data smtp_server_ehlo smtp_server_get_dynamic_parameters smtp_server_mail_from
smtp_server_message_deferred_inject smtp_server_message_received smtp_server_rcpt_to
smtp_server_rewrite_response smtp_server_split_transaction spool_message_enumerated
throttle_insert_ready_queue xfer_message_received validate_config
]]):gmatch('%S+') do
  KUMOD_EVENTS[name] = true
end
local TSA_EVENTS = { tsa_init = true, tsa_load_shaping_data = true }

-- events declared `Multiple` (git grep -A2 'Multiple(' crates/): several handlers, called in order
local MULTIPLE = {
  get_acl_definition = true,
  get_queue_config = true,
  pre_init = true,
  requeue_message = true,
  should_enqueue_log_record = true,
  throttle_insert_ready_queue = true,
  validate_config = true,
}

-------------------------------------------------------------------------------
-- value checks

local function fail(fmt, ...)
  error(string.format(fmt, ...), 0)
end

local function is_list(t)
  return type(t) == 'table' and json.is_array(t)
end

-- humantime::parse_duration units (crates/duration-serde/src/lib.rs uses humantime), minus the
-- sub-millisecond and calendar ones
local DURATION_UNITS = {
  ms = 0.001, msec = 0.001,
  s = 1, sec = 1, second = 1, seconds = 1,
  m = 60, min = 60, minute = 60, minutes = 60,
  h = 3600, hr = 3600, hour = 3600, hours = 3600,
  d = 86400, day = 86400, days = 86400,
  w = 604800, week = 604800, weeks = 604800,
}

function M.parse_duration(value)
  if type(value) == 'number' then
    if value < 0 then
      return nil
    end
    return value
  end
  if type(value) ~= 'string' then
    return nil
  end
  local total, rest, groups = 0, value, 0
  while true do
    rest = rest:match('^%s*(.*)$')
    if rest == '' then
      break
    end
    local num, unit, tail = rest:match('^(%d+)%s*(%a+)(.*)$')
    if not num or not DURATION_UNITS[unit] then
      return nil
    end
    total = total + tonumber(num) * DURATION_UNITS[unit]
    rest, groups = tail, groups + 1
  end
  if groups == 0 then
    return nil
  end
  return total
end

-- crates/throttle/src/lib.rs `impl TryFrom<&str> for ThrottleSpec`:
-- [local:]limit/[n]period[,max_burst=n], period one of h hr hour m min minute s sec second d day
local THROTTLE_PERIODS = {
  h = 3600, hr = 3600, hour = 3600,
  m = 60, min = 60, minute = 60,
  s = 1, sec = 1, second = 1,
  d = 86400, day = 86400,
}

local function separated_number(s)
  if not s:match('^[%d_,]+$') then
    return nil
  end
  return tonumber((s:gsub('[_,]', '')))
end

function M.parse_throttle(value)
  if type(value) ~= 'string' then
    return nil
  end
  local spec = { ['local'] = false }
  local s = value
  if s:sub(1, 6) == 'local:' then
    spec['local'], s = true, s:sub(7)
  end
  local head, burst = s:match('^(.-),max_burst=(.*)$')
  if head then
    spec.max_burst = separated_number(burst)
    if not spec.max_burst then
      return nil
    end
    s = head
  end
  local limit, period = s:match('^([^/]+)/(.+)$')
  if not limit then
    return nil
  end
  local scale, unit = period:match('^(%d*)(%a+)$')
  if not unit or not THROTTLE_PERIODS[unit] then
    return nil
  end
  spec.limit = separated_number(limit)
  if not spec.limit or spec.limit == 0 then
    return nil
  end
  spec.period_seconds = THROTTLE_PERIODS[unit] * (tonumber(scale) or 1)
  return spec
end

-- strict CIDR (docs/reference/kumo/start_esmtp_listener/relay_hosts.md: host bits must be zero)
local function valid_cidr(entry)
  if type(entry) ~= 'string' then
    return false
  end
  local addr, bits = entry:match('^([^/]+)/(%d+)$')
  addr = addr or entry
  local o = { addr:match('^(%d+)%.(%d+)%.(%d+)%.(%d+)$') }
  if #o == 4 then
    local n = 0
    for _, part in ipairs(o) do
      if tonumber(part) > 255 then
        return false
      end
      n = n * 256 + tonumber(part)
    end
    local prefix = tonumber(bits or '32')
    return prefix <= 32 and n % (1 << (32 - prefix)) == 0
  end
  return addr:match('^[%x:]+$') ~= nil and addr:find(':.*:') ~= nil and tonumber(bits or '0') <= 128
end

-- a validator is function(value, where) that raises on a bad value

local T = {}

function T.kind(lua_type)
  return function(v, where)
    if type(v) ~= lua_type then
      fail('%s: expected a %s, got %s', where, lua_type, type(v))
    end
  end
end
T.string = T.kind('string')
T.boolean = T.kind('boolean')
T.table = T.kind('table')
T.func = T.kind('function')

function T.integer(v, where)
  if math.type(v) ~= 'integer' or v < 0 then
    fail('%s: expected a non-negative integer, got %s', where, tostring(v))
  end
end

function T.duration(v, where)
  if M.parse_duration(v) == nil then
    fail('%s: %q is not a duration (humantime, e.g. "5s", "10 minutes")', where, tostring(v))
  end
end

function T.throttle(v, where)
  if M.parse_throttle(v) == nil then
    fail('%s: %q is not a throttle spec ([local:]N/period[,max_burst=N])', where, tostring(v))
  end
end

-- LimitSpec: an integer, or a string with an optional "local:" prefix and digit separators
-- (docs/reference/kumo/make_egress_path/connection_limit.md)
function T.limit(v, where)
  if math.type(v) == 'integer' and v >= 0 then
    return
  end
  if type(v) == 'string' and separated_number((v:gsub('^local:', ''))) then
    return
  end
  fail('%s: %q is not a connection limit', where, tostring(v))
end

-- MinFree: "N%" or a number of bytes/inodes (docs/reference/kumo/define_spool/min_free_space.md)
function T.min_free(v, where)
  if math.type(v) == 'integer' and v >= 0 then
    return
  end
  if type(v) == 'string' and v:match('^%d+%%$') then
    return
  end
  fail('%s: %q is not a percentage string or a number', where, tostring(v))
end

-- KeySource: a path string, or a table such as {key_data=...} or a vault reference
-- (docs/reference/keysource.md). A path is read when the listener or connection needs the key, so
-- it must be a file the pod has.
function T.keysource(v, where)
  if type(v) == 'string' then
    T.file(v, where)
    return
  end
  if type(v) ~= 'table' then
    fail('%s: expected a path or a key source table', where)
  end
end

-- How kumod turns a Lua value into a Rust sequence (config::from_lua_value -> mlua's serde
-- Deserializer). A Lua table is a sequence when it has array items; an EMPTY table is read as a
-- sequence only when serde asks for one directly (deserialize_seq). Where serde first buffers the
-- value through deserialize_any -- every field of a struct with a #[serde(flatten)] member, and the
-- variants of an #[serde(untagged)] enum -- mlua answers with a map for an empty table, and the
-- sequence type then refuses it with serde's "invalid type: map, expected a sequence".
-- ctx.buffered marks that situation; it is inherited by everything nested below.
local function check_sequence(v, where, ctx)
  if type(v) ~= 'table' then
    fail('%s: invalid type: %s, expected a sequence', where, type(v) == 'string' and 'string' or type(v))
  end
  if next(v) == nil then
    if ctx and ctx.buffered then
      fail('%s: invalid type: map, expected a sequence', where)
    end
    return
  end
  if not is_list(v) then
    fail('%s: invalid type: map, expected a sequence', where)
  end
end

function T.list(item)
  return function(v, where, ctx)
    check_sequence(v, where, ctx)
    for i, x in ipairs(v) do
      item(x, string.format('%s[%d]', where, i), ctx)
    end
  end
end
T.string_list = T.list(T.string)

-- crates/cidr-map/src/set.rs CidrSet: #[serde(try_from = "Vec<String>")], so a sequence first
function T.cidr_list(v, where, ctx)
  check_sequence(v, where, ctx)
  for i, x in ipairs(v) do
    if not valid_cidr(x) then
      fail('%s[%d]: %q is not a valid (strict) IP or CIDR', where, i, tostring(x))
    end
  end
end

-- a Rust enum of unit variants: serde wants one variant name exactly (case-sensitive)
function T.enum(values)
  local set = {}
  for _, x in ipairs(values) do
    set[x] = true
  end
  return function(v, where)
    if type(v) ~= 'string' then
      fail('%s: invalid type: %s, expected one of %s', where, type(v), table.concat(values, ', '))
    end
    if not set[v] then
      fail('%s: unknown variant `%s`, expected one of %s', where, tostring(v), table.concat(values, ', '))
    end
  end
end

-- a path kumod reads: it must exist where the pod (or the image) has it
function M.pod_file(path)
  if type(path) ~= 'string' then
    return nil
  end
  if M.IMAGE_FILES[path] then
    return path
  end
  if M.policy_dir and path:sub(1, #M.POD_POLICY_DIR) == M.POD_POLICY_DIR then
    local local_path = M.policy_dir .. path:sub(#M.POD_POLICY_DIR + 1)
    local f = io.open(local_path, 'r')
    if f then
      f:close()
      return local_path
    end
  end
  return nil
end

function T.file(v, where)
  if type(v) ~= 'string' then
    fail('%s: expected a file path', where)
  end
  if not M.pod_file(v) then
    fail('%s: %q is not a file the pod has (only %s* from manifests/base/policy/kumomta/ and the image\'s bundled files)', where, v, M.POD_POLICY_DIR)
  end
end

function T.any_of(...)
  local choices = { ... }
  return function(v, where, ctx)
    local errors = {}
    for _, c in ipairs(choices) do
      local ok, err = pcall(c, v, where, ctx)
      if ok then
        return
      end
      errors[#errors + 1] = err
    end
    fail('%s', table.concat(errors, '; or '))
  end
end

function T.listen(v, where)
  local port = type(v) == 'string' and v:match(':(%d+)$')
  if not port or tonumber(port) < 1 or tonumber(port) > 65535 then
    fail('%s: %q is not "address:port"', where, tostring(v))
  end
end

-- a HashMap/OrderMap with string keys: an empty table is fine either way; array items are a
-- sequence to serde ("invalid type: sequence, expected a map")
function T.map_of(value_check)
  return function(v, where, ctx)
    if type(v) ~= 'table' then
      fail('%s: expected a table', where)
    end
    if next(v) ~= nil and is_list(v) then
      fail('%s: invalid type: sequence, expected a map', where)
    end
    for k, x in pairs(v) do
      if type(k) ~= 'string' then
        fail('%s: keys must be strings', where)
      end
      value_check(x, where .. '.' .. k, ctx)
    end
  end
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    if type(k) == 'string' and k:sub(1, 2) ~= '__' then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys)
  return keys
end

-- Convert an options table the way serde derives a struct from it. Schema keys:
--   __flatten = true     the struct has a #[serde(flatten)] member: every field is buffered
--                        (see check_sequence), and so is everything nested in it
--   __ignore_unknown = true  no #[serde(deny_unknown_fields)]: unknown keys are silently dropped
--                        (recorded in M.ignored so a test can show it); otherwise refused
--   __required = {...}   fields without #[serde(default)]
function M.check_options(where, schema, params, ctx)
  if type(params) ~= 'table' then
    fail('%s: expected a table of options, got %s', where, type(params))
  end
  if next(params) ~= nil and is_list(params) then
    fail('%s: invalid type: sequence, expected a struct', where)
  end
  local inner = ctx
  if schema.__flatten and not (ctx and ctx.buffered) then
    inner = { buffered = true }
  end
  for key, value in pairs(params) do
    if type(key) ~= 'string' then
      fail('%s: option names must be strings, got %s', where, tostring(key))
    end
    local check = schema[key]
    if check == nil or key:sub(1, 2) == '__' then
      if schema.__ignore_unknown then
        M.ignored[#M.ignored + 1] = where .. ': ' .. key
      else
        fail("%s: unknown field `%s` (allowed: %s)", where, key, table.concat(sorted_keys(schema), ', '))
      end
    else
      check(value, string.format('%s: option %s', where, key), inner)
    end
  end
  for _, key in ipairs(schema.__required or {}) do
    if params[key] == nil then
      fail("%s: missing required option '%s'", where, key)
    end
  end
end

M.ignored = {}

function T.options(where, schema)
  return function(v, _where, ctx)
    M.check_options(where, schema, v, ctx)
  end
end

-------------------------------------------------------------------------------
-- option lists

local S = {}
M.schemas = S

-- crates/kumod/src/smtp_server.rs TraceHeaders (deny_unknown_fields)
S.trace_headers = {
  received_header = T.boolean,
  supplemental_header = T.boolean,
  header_name = T.string,
  include_meta_names = T.string_list,
}

-- crates/kumod/src/smtp_server.rs GenericEsmtpListenerParams (deny_unknown_fields);
-- docs/reference/kumo/start_esmtp_listener/*.md
S.esmtp_generic = {
  hostname = T.string,
  relay_hosts = T.cidr_list,
  banner = T.string,
  batch_handling = T.enum { 'BifurcateAlways', 'BatchByDomain' },
  tls_certificate = T.keysource,
  tls_private_key = T.keysource,
  tls_required_client_ca = T.keysource,
  deferred_spool = T.boolean,
  deferred_queue = T.boolean,
  trace_headers = T.options('trace_headers', S.trace_headers),
  client_timeout = T.duration,
  data_processing_timeout = T.duration,
  meta = T.table,
  max_messages_per_connection = T.integer,
  max_recipients_per_message = T.integer,
  max_message_size = T.integer,
  data_buffer_size = T.integer,
  invalid_line_endings = T.enum { 'Deny', 'Allow', 'Fix' },
  line_length_hard_limit = T.integer,
  allow_xclient = T.boolean,
  require_proxy_protocol = T.boolean,
}
S.esmtp_generic.peer = T.map_of(T.options('peer entry', S.esmtp_generic))
S.esmtp_generic.via = T.map_of(T.options('via entry', S.esmtp_generic))

-- EsmtpListenerParams (deny_unknown_fields) = listen + max_connections + the generic ones through
-- #[serde(flatten)]: every option is buffered, so an empty table is a map (relay_hosts = {} fails)
S.esmtp_listener = { listen = T.listen, max_connections = T.integer, __flatten = true }
for k, v in pairs(S.esmtp_generic) do
  S.esmtp_listener[k] = v
end

-- crates/kumo-server-common/src/http_server/mod.rs HttpListenerParams (deny_unknown_fields);
-- docs/reference/kumo/start_http_listener/*.md
S.http_listener = {
  hostname = T.string,
  listen = T.listen,
  use_tls = T.boolean,
  request_body_limit = T.integer,
  tls_certificate = T.keysource,
  tls_private_key = T.keysource,
  trusted_hosts = T.cidr_list,
}

-- crates/kumod/src/spool.rs DefineSpoolParams; docs/reference/kumo/define_spool/*.md
-- (name is any string upstream; kumod stores in the spools named "data" and "meta" only)
-- (deny_unknown_fields; SpoolKind in the same file)
S.define_spool = {
  name = T.enum { 'data', 'meta' },
  path = T.string,
  kind = T.enum { 'LocalDisk', 'RocksDB', 'Memory' },
  flush = T.boolean,
  rocks_params = T.table,
  min_free_space = T.min_free,
  min_free_inodes = T.min_free,
  __required = { 'name', 'path' },
}

-- crates/kumod/src/logging/files.rs LogFileParams (deny_unknown_fields);
-- docs/reference/kumo/configure_local_logs/*.md
S.local_logs = {
  log_dir = T.string,
  max_file_size = T.integer,
  back_pressure = T.integer,
  compression_level = T.integer,
  max_segment_duration = T.duration,
  meta = T.string_list,
  headers = T.string_list,
  per_record = T.table,
  filter_event = T.string,
  min_free_space = T.min_free,
  min_free_inodes = T.min_free,
  __required = { 'log_dir' },
}

-- crates/mod-redis/src/lib.rs RedisConnKey (NO deny_unknown_fields: a misspelt option is silently
-- ignored by kumod, and so here, recorded in `ignored_options`); docs/reference/redis/open.md
-- (docs/reference/kumo/configure_redis_throttles.md: "PARAMS behaves exactly as ... redis.open").
-- node is NodeSpec, #[serde(untagged)]: a string or a non-empty list
S.redis = {
  __ignore_unknown = true,
  node = function(v, where)
    T.any_of(T.string, T.string_list)(v, where, { buffered = true })
  end,
  read_from_replicas = T.boolean,
  username = T.string,
  password = T.string,
  cluster = T.boolean,
  pool_size = T.integer,
  connect_timeout = T.duration,
  recycle_timeout = T.duration,
  wait_timeout = T.duration,
  response_timeout = T.duration,
  __required = { 'node' },
}

-- mx_list entries: a name (optionally name:port since 2025.10.06) or {name=, addr=}
-- (docs/reference/kumo/make_queue_config/protocol.md; crates/kumod/src/smtp_dispatcher.rs MxListEntry)
local function mx_entry(v, where)
  if type(v) == 'table' then
    M.check_options(where, { name = T.string, addr = T.string, __required = { 'name', 'addr' } }, v)
    return
  end
  if type(v) ~= 'string' or v == '' then
    fail('%s: expected a host name, [ip] or host:port', where)
  end
  local port = v:match('^[^:]+:(%d+)$')
  if port and (tonumber(port) < 1 or tonumber(port) > 65535) then
    fail('%s: port out of range in %q', where, v)
  end
end

-- crates/kumod/src/queue/delivery_proto.rs DeliveryProto (untagged): exactly one shape, and serde
-- buffers the value to try each variant, so everything inside is read through deserialize_any
local BUFFERED = { buffered = true }
local function protocol(v, where)
  if type(v) ~= 'table' then
    fail('%s: expected a table', where)
  end
  if v.smtp ~= nil then
    M.check_options(where, { smtp = T.options('protocol.smtp', { mx_list = T.list(mx_entry) }) }, v, BUFFERED)
  elseif v.maildir_path ~= nil then
    M.check_options(where, { maildir_path = T.string, dir_mode = T.integer, file_mode = T.integer }, v, BUFFERED)
  elseif v.custom_lua ~= nil then
    M.check_options(where, {
      -- crates/kumod/src/lua_deliver.rs LuaDeliveryProtocol (deny_unknown_fields)
      custom_lua = T.options('protocol.custom_lua', {
        constructor = T.string,
        batch_size = T.integer,
        min_batch_size = T.integer,
        max_batch_latency = T.duration,
        __required = { 'constructor' },
      }),
    }, v, BUFFERED)
  elseif v.xfer ~= nil then
    M.check_options(where, { xfer = T.table }, v, BUFFERED)
  else
    fail('%s: expected one of smtp, maildir_path, custom_lua or xfer; got keys %s', where,
      table.concat(sorted_keys(v), ', '))
  end
end

-- crates/kumo-api-types/src/egress_path.rs enums
local MEMORY_REDUCTION = T.enum { 'ShrinkDataAndMeta', 'ShrinkData', 'NoShrink' }
local WAKEUP = T.enum { 'Aggressive', 'Relaxed' }
-- crates/kumod/src/queue/config.rs QueueConfig (deny_unknown_fields, no flatten);
-- docs/reference/kumo/make_queue_config/*.md
-- (provider_name is in the struct, not in the docs)
S.queue_config = {
  retry_interval = T.duration,
  max_retry_interval = T.duration,
  max_age = T.duration,
  egress_pool = T.string,
  max_message_rate = T.throttle,
  protocol = protocol,
  reap_interval = T.duration,
  refresh_interval = T.duration,
  timerwheel_tick_interval = T.duration,
  -- crates/kumod/src/queue/strategy.rs QueueStrategy
  strategy = T.enum { 'TimerWheel', 'SkipList', 'SingletonTimerWheel', 'SingletonTimerWheelV2' },
  refresh_strategy = T.enum { 'Ttl', 'Epoch' },
  provider_name = T.string,
  -- Vec<QueueShrinkPolicy> (deny_unknown_fields): { interval = duration, policy = MemoryReductionPolicy }
  shrink_policy = T.list(T.options('shrink_policy entry', {
    interval = T.duration,
    policy = MEMORY_REDUCTION,
    __required = { 'interval', 'policy' },
  })),
}

-- crates/kumo-api-types/src/egress_path.rs EgressPathConfig (deny_unknown_fields) with the
-- flattened crates/rfc5321/src/client_types.rs SmtpClientTimeouts;
-- docs/reference/kumo/make_egress_path/*.md (aggressive_connection_opening, readyq_pool_name and
-- auth_timeout are in the structs only)
S.egress_path = {
  __flatten = true,
  connection_limit = T.limit,
  additional_connection_limits = T.map_of(T.limit),
  enable_tls = T.enum { 'Opportunistic', 'OpportunisticInsecure', 'Required', 'RequiredInsecure', 'Disabled' },
  enable_mta_sts = T.boolean,
  enable_dane = T.boolean,
  enable_pipelining = T.boolean,
  enable_rset = T.boolean,
  tls_prefer_openssl = T.boolean,
  tls_certificate = T.keysource,
  tls_private_key = T.keysource,
  openssl_cipher_list = T.string,
  openssl_cipher_suites = T.string,
  openssl_options = T.string,
  rustls_cipher_suites = T.string_list,
  system_shutdown_timeout = T.duration,
  max_ready = T.integer,
  consecutive_connection_failures_before_delay = T.integer,
  smtp_port = T.integer,
  smtp_auth_plain_username = T.string,
  smtp_auth_plain_password = T.keysource,
  allow_smtp_auth_plain_without_tls = T.boolean,
  max_message_rate = T.throttle,
  additional_message_rate_throttles = T.map_of(T.throttle),
  source_selection_rate = T.throttle,
  additional_source_selection_rates = T.map_of(T.throttle),
  max_connection_rate = T.throttle,
  max_deliveries_per_connection = T.integer,
  max_recipients_per_batch = T.integer,
  prohibited_hosts = T.cidr_list,
  skip_hosts = T.cidr_list,
  -- crates/dns-resolver/src/lib.rs IpLookupStrategy
  ip_lookup_strategy = T.enum { 'Ipv4Only', 'Ipv6Only', 'Ipv4AndIpv6', 'Ipv6ThenIpv4', 'Ipv4ThenIpv6' },
  ehlo_domain = T.string,
  aggressive_connection_opening = T.boolean,
  refresh_interval = T.duration,
  refresh_strategy = T.enum { 'Ttl', 'Epoch' },
  dispatcher_wakeup_strategy = WAKEUP,
  maintainer_wakeup_strategy = WAKEUP,
  provider_name = T.string,
  remember_broken_tls = T.duration,
  opportunistic_tls_reconnect_on_failed_handshake = T.boolean,
  use_lmtp = T.boolean,
  reconnect_strategy = T.enum { 'TerminateSession', 'ReconnectSameHost', 'ConnectNextHost' },
  readyq_pool_name = T.string,
  low_memory_reduction_policy = MEMORY_REDUCTION,
  no_memory_reduction_policy = MEMORY_REDUCTION,
  try_next_host_on_transport_error = T.boolean,
  ignore_8bit_checks = T.boolean,
  connect_timeout = T.duration,
  banner_timeout = T.duration,
  ehlo_timeout = T.duration,
  mail_from_timeout = T.duration,
  rcpt_to_timeout = T.duration,
  data_timeout = T.duration,
  data_dot_timeout = T.duration,
  rset_timeout = T.duration,
  idle_timeout = T.duration,
  starttls_timeout = T.duration,
  auth_timeout = T.duration,
}

-- crates/kumod/src/smtp_server.rs EsmtpDomain (deny_unknown_fields);
-- docs/reference/kumo/make_listener_domain/*.md (ttl is deprecated and unused)
local report_disposition = T.any_of(T.boolean, T.enum { 'Ignore', 'LogThenDrop', 'LogThenRelay' })
S.listener_domain = {
  log_oob = report_disposition,
  log_arf = report_disposition,
  relay_to = T.boolean,
  relay_from = T.cidr_list,
  ttl = T.duration,
}

-- crates/mod-memoize/src/lib.rs MemoizeParams (deny_unknown_fields); docs/reference/kumo/memoize.md
-- ("all of which are required" for the first three)
S.memoize = {
  name = T.string,
  ttl = T.duration,
  capacity = T.integer,
  invalidate_with_epoch = T.boolean,
  populate_timeout = T.duration,
  retry_on_populate_timeout = T.boolean,
  allow_stale_reads = T.boolean,
  __required = { 'name', 'ttl', 'capacity' },
}

-- crates/kumo-api-types/src/shaping.rs ShapingMergeOptions (deny_unknown_fields), CheckLevel;
-- docs/reference/kumo.shaping/load.md "Options Parameter"
local severity = T.enum { 'Ignore', 'Warn', 'Error' }
S.shaping_load = {
  aliased_site = severity,
  dns_fail = severity,
  local_load = severity,
  null_mx = severity,
  provider_overlap = severity,
  remote_load = severity,
  skip_remote = T.boolean,
  http_timeout = T.duration,
}

-- docs/reference/message/check_fix_conformance.md, table of supported issues
M.CONFORMANCE_ISSUES = {}
for name in ([[
MISSING_COLON_VALUE NON_CANONICAL_LINE_ENDINGS NAME_ENDS_WITH_SPACE LINE_TOO_LONG
NEEDS_TRANSFER_ENCODING MISSING_DATE_HEADER MISSING_MESSAGE_ID_HEADER MISSING_MIME_VERSION
]]):gmatch('%S+') do
  M.CONFORMANCE_ISSUES[name] = true
end

-------------------------------------------------------------------------------
-- strict objects

-- a table whose unknown fields raise instead of reading as nil
function M.strict(name, fields)
  return setmetatable(fields, {
    __index = function(_, key)
      fail('%s.%s does not exist', name, tostring(key))
    end,
    __newindex = function(_, key)
      fail('%s.%s: the policy must not assign into %s', name, tostring(key), name)
    end,
  })
end

local function copy(v)
  if type(v) ~= 'table' then
    return v
  end
  local out = {}
  for k, x in pairs(v) do
    out[k] = copy(x)
  end
  return out
end
M.copy = copy

-------------------------------------------------------------------------------
-- the stand-in

-- mode: 'kumod' or 'tsa'. Returns the `kumo` module, the `tsa` module (tsa mode) and `state`.
function M.new(mode)
  local state = {
    mode = mode,
    phase = 'main', -- like kumod's _KUMO_CURRENT_EVENT
    handlers = {}, -- event -> list of functions (documented events)
    custom = {}, -- event -> function (helper-registered custom events)
    esmtp_listeners = {},
    http_listeners = {},
    spools = {},
    local_logs = {},
    redis_throttles = {},
    memoized = {},
    shaping_loads = {},
    remote_shaping_urls = {},
    logs = {},
    tsa_db_path = nil,
    tsa_http_listeners = {},
    init_calls = {}, -- order of the configuring calls made during init
    driven = {}, -- events fired at least once
  }
  local events = mode == 'tsa' and TSA_EVENTS or KUMOD_EVENTS
  local init_event = mode == 'tsa' and 'tsa_init' or 'init'

  local function only_in_init(fname)
    if state.phase ~= init_event then
      fail('%s must be called from inside the %s event handler (called during %s)', fname, init_event, state.phase)
    end
  end

  local kumo = {}

  function kumo.on(name, fn)
    if type(name) ~= 'string' then
      fail('kumo.on: the event name must be a string')
    end
    if state.phase ~= 'main' then
      fail("kumo.on('%s') from within the event handler '%s': handlers must be registered when the policy loads", name, state.phase)
    end
    if not events[name] then
      fail("kumo.on: '%s' is not a documented %s event", name, mode == 'tsa' and 'tsa-daemon' or 'kumod')
    end
    if type(fn) ~= 'function' then
      fail("kumo.on('%s'): the handler must be a function", name)
    end
    local list = state.handlers[name]
    if list and not MULTIPLE[name] then
      fail('%s event already has a handler defined', name)
    end
    list = list or {}
    list[#list + 1] = fn
    state.handlers[name] = list
  end

  -- for the policy-extras stand-ins: upstream helpers register custom event names
  function state.register_custom(name, fn)
    if state.phase ~= 'main' then
      fail("registering '%s' from within '%s'", name, state.phase)
    end
    if state.custom[name] then
      fail('%s event already has a handler defined', name)
    end
    state.custom[name] = fn
  end

  -- call the handlers of an event like kumod: Multiple events stop at the first non-nil result,
  -- except pre_init and validate_config whose handlers all run
  function state.fire(name, ...)
    local list = state.handlers[name]
    if not list and state.custom[name] then
      list = { state.custom[name] }
    end
    if not list then
      return nil, false
    end
    state.driven[name] = true
    local previous = state.phase
    state.phase = name
    local results
    local ok, err = pcall(function(...)
      for _, fn in ipairs(list) do
        results = table.pack(fn(...))
        if name ~= 'pre_init' and name ~= 'validate_config' and results[1] ~= nil then
          break
        end
      end
    end, ...)
    state.phase = previous
    if not ok then
      error(err, 0)
    end
    return results and results[1], true
  end

  local function modelled(fname, schema, store)
    return function(params)
      M.check_options('kumo.' .. fname, schema, params)
      if store then
        only_in_init('kumo.' .. fname)
        table.insert(state[store], copy(params))
        table.insert(state.init_calls, 'kumo.' .. fname)
      end
    end
  end

  if mode == 'kumod' then
    kumo.start_esmtp_listener = modelled('start_esmtp_listener', S.esmtp_listener, 'esmtp_listeners')
    kumo.start_http_listener = modelled('start_http_listener', S.http_listener, 'http_listeners')
    kumo.define_spool = modelled('define_spool', S.define_spool, 'spools')
    kumo.configure_local_logs = modelled('configure_local_logs', S.local_logs, 'local_logs')
    kumo.configure_redis_throttles = modelled('configure_redis_throttles', S.redis, 'redis_throttles')

    function kumo.make_queue_config(params)
      M.check_options('kumo.make_queue_config', S.queue_config, params)
      return { __standin = 'QueueConfig', params = copy(params) }
    end

    function kumo.make_egress_path(params)
      M.check_options('kumo.make_egress_path', S.egress_path, params)
      return { __standin = 'EgressPathConfig', params = copy(params) }
    end

    function kumo.make_listener_domain(params)
      M.check_options('kumo.make_listener_domain', S.listener_domain, params)
      return { __standin = 'ListenerDomain', params = copy(params) }
    end

    -- docs/reference/kumo/reject.md: raises an error carrying an SMTP code and message
    function kumo.reject(code, message)
      if math.type(code) ~= 'integer' or code < 400 or code > 599 then
        fail('kumo.reject: code must be an integer 400-599, got %s', tostring(code))
      end
      if type(message) ~= 'string' then
        fail('kumo.reject: message must be a string')
      end
      error(setmetatable({ code = code, message = message }, {
        __tostring = function(r)
          return string.format('kumo.reject(%d, %q)', r.code, r.message)
        end,
      }), 0)
    end
  end

  function kumo.memoize(fn, params)
    if type(fn) ~= 'function' then
      fail('kumo.memoize: the first argument must be a function')
    end
    M.check_options('kumo.memoize', S.memoize, params)
    local record = { params = copy(params), calls = 0 }
    table.insert(state.memoized, record)
    return function(...)
      record.calls = record.calls + 1
      return fn(...)
    end
  end

  for _, level in ipairs { 'debug', 'info', 'warn', 'error' } do
    kumo['log_' .. level] = function(...)
      local parts = table.pack(...)
      for i = 1, parts.n do
        parts[i] = tostring(parts[i])
      end
      table.insert(state.logs, { level = level, message = table.concat(parts, ' ', 1, parts.n) })
    end
  end

  kumo.serde = M.strict('kumo.serde', {
    json_encode = function(value)
      return json.encode(value)
    end,
  })
  setmetatable(kumo.serde, {
    __index = function(_, key)
      if SERDE_FUNCTIONS[key] then
        fail('kumo.serde.%s is documented but not modelled by the harness', key)
      end
      fail('kumo.serde.%s is not a documented function (docs/reference/kumo.serde/)', key)
    end,
    __newindex = function()
      fail('the policy must not assign into kumo.serde')
    end,
  })

  -- docs/reference/kumo.shaping/load.md
  local shaping = {}
  function shaping.load(paths, options)
    T.string_list(paths, 'kumo.shaping.load: paths')
    if options ~= nil then
      M.check_options('kumo.shaping.load', S.shaping_load, options)
    end
    -- crates/kumo-api-types/src/shaping.rs Shaping::merge_files: a local file that cannot be read
    -- is a local_load problem (an Error by default), a URL is fetched unless skip_remote. The
    -- stand-in checks that each local file exists where the pod has it; parsing its TOML is the
    -- test's job (policy.test.ts, against the documented format).
    local errors = {}
    local level = (options and options.local_load) or 'Error'
    for _, path in ipairs(paths) do
      if path:match('^https?://') then
        if not (options and options.skip_remote) then
          state.remote_shaping_urls[#state.remote_shaping_urls + 1] = path
        end
      elseif not M.pod_file(path) and level ~= 'Ignore' then
        errors[#errors + 1] = string.format('%s: not a file the pod has', path)
      end
    end
    table.insert(state.shaping_loads, { paths = copy(paths), options = copy(options), errors = copy(errors) })
    return M.strict('Shaping', {
      __standin = 'Shaping',
      paths = copy(paths),
      get_errors = function()
        return copy(errors)
      end,
      get_warnings = function()
        return {}
      end,
    })
  end
  kumo.shaping = setmetatable(shaping, {
    __index = function(_, key)
      fail('kumo.shaping.%s is not modelled by the harness', key)
    end,
    __newindex = function()
      fail('the policy must not assign into kumo.shaping')
    end,
  })

  setmetatable(kumo, {
    __index = function(_, key)
      if KUMO_SUBMODULES[key] then
        fail('kumo.%s is documented but not modelled by the harness', key)
      elseif KUMO_FUNCTIONS[key] then
        if mode == 'tsa' then
          fail('kumo.%s is not modelled for tsa-daemon (or not available there)', key)
        end
        fail('kumo.%s is documented but not modelled by the harness', key)
      end
      fail('kumo.%s is not a documented KumoMTA function (docs/reference/kumo/)', tostring(key))
    end,
    __newindex = function(_, key)
      fail('kumo.%s: the policy must not assign into kumo', tostring(key))
    end,
  })

  local tsa
  if mode == 'tsa' then
    -- crates/tsa-daemon/src/mod_auto.rs registers exactly these two on the `tsa` module
    tsa = M.strict('tsa', {
      -- docs/reference/tsa/configure_tsa_db_path.md: before start_http_listener
      configure_tsa_db_path = function(path)
        only_in_init('tsa.configure_tsa_db_path')
        if type(path) ~= 'string' or path == '' then
          fail('tsa.configure_tsa_db_path: expected a path string')
        end
        if #state.tsa_http_listeners > 0 then
          fail('tsa.configure_tsa_db_path must be called before tsa.start_http_listener')
        end
        state.tsa_db_path = path
      end,
      -- docs/reference/tsa/start_http_listener.md: same params as kumo.start_http_listener
      start_http_listener = function(params)
        M.check_options('tsa.start_http_listener', S.http_listener, params)
        only_in_init('tsa.start_http_listener')
        table.insert(state.tsa_http_listeners, copy(params))
      end,
    })
  end

  return kumo, tsa, state
end

return M
