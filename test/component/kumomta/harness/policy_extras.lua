--[[
Stand-ins for the policy-extras helpers mailkind's init.lua requires. Like harness/kumo.lua they
check option names strictly and record what the policy asks for; they do not reimplement the
helpers (no shaping data is loaded, nothing is published).

Upstream sources (KumoCorp/kumomta at tag 2026.06.23-f3af1cd0):
  assets/policy-extras/shaping.lua    mod:setup_with_automation(options)
  assets/policy-extras/log_hooks.lua  mod:new_disposition_hook(options), mod:new(options)
]]
local M = {}

-- set by M.new: the harness/kumo.lua module (option lists, duration parser)
local standin

local function fail(fmt, ...)
  error(string.format(fmt, ...), 0)
end

local function is_list(v)
  if type(v) ~= 'table' then
    return false
  end
  local n = 0
  for k in pairs(v) do
    if math.type(k) ~= 'integer' then
      return false
    end
    n = n + 1
  end
  return n == #v
end

local function url_list(v, where)
  if not is_list(v) then
    fail('%s: expected a list of URLs', where)
  end
  for i, url in ipairs(v) do
    if type(url) ~= 'string' or not url:match('^https?://[^/]+$') then
      fail('%s[%d]: %q is not an http(s)://host[:port] base URL', where, i, tostring(url))
    end
  end
end

local function list_of_strings(v, where)
  if not is_list(v) then
    fail('%s: expected a list of strings', where)
  end
  for _, x in ipairs(v) do
    if type(x) ~= 'string' then
      fail('%s: expected a list of strings', where)
    end
  end
end

local function kind(lua_type)
  return function(v, where)
    if type(v) ~= lua_type then
      fail('%s: expected a %s', where, lua_type)
    end
  end
end

local function duration(v, where)
  if standin.parse_duration(v) == nil then
    fail('%s: %q is not a duration', where, tostring(v))
  end
end

-- The option names read by setup_with_automation in assets/policy-extras/shaping.lua (the real
-- helper takes a plain table and silently ignores a misspelt key; this stand-in refuses it).
local SHAPING_OPTIONS = {
  publish = url_list,
  subscribe = url_list,
  extra_files = list_of_strings,
  no_default_files = kind('boolean'),
  pre_filter = kind('boolean'),
  skip_log_record_types = list_of_strings,
  additional_skip_log_record_types = list_of_strings,
  cache_ttl = duration,
  retry_shaping_data_fetch_on_populate_timeout = kind('boolean'),
  shaping_data_populate_timeout = duration,
  allow_stale_shaping_data = kind('boolean'),
  publish_timeout = duration,
  publish_pool_idle_timeout = duration,
  publish_connection_verbose = kind('boolean'),
  back_pressure = function(v, where)
    if math.type(v) ~= 'integer' then
      fail('%s: expected an integer', where)
    end
  end,
  -- merged into the publish queues' make_queue_config params (get_queue_cfg in shaping.lua);
  -- the helper sets protocol itself
  tsa_queue_config = function(v, where)
    standin.check_options(where, standin.schemas.queue_config, v)
    if v.protocol ~= nil then
      fail('%s: protocol is set by the helper', where)
    end
  end,
  -- passed to kumo.shaping.load
  load_validation_options = function(v, where)
    standin.check_options(where, standin.schemas.shaping_load, v)
  end,
  validation_options = function(v, where)
    standin.check_options(where, standin.schemas.shaping_load, v)
  end,
}

-- options of log_hooks:new_disposition_hook: the typed record DispHookOptions in log_hooks.lua
local DISPOSITION_HOOK_OPTIONS = {
  name = kind('string'),
  hook = kind('function'),
  __required = { 'name', 'hook' },
}

-- options of log_hooks:new: the typed record LogHookOptions in log_hooks.lua
local LOG_HOOK_OPTIONS = {
  name = kind('string'),
  log_parameters = kind('table'),
  queue_config = kind('table'),
  constructor = kind('function'),
  batch_size = kind('number'),
  min_batch_size = kind('number'),
  max_batch_latency = duration,
  filter = kind('function'),
  __required = { 'name', 'constructor' },
}

-- what log_parameters may hold: kumo.configure_log_hook's options besides name
-- (docs/reference/kumo/configure_log_hook.md: back_pressure, meta, headers, per_record, deferred_spool)
local CONFIGURE_LOG_HOOK_OPTIONS = {
  back_pressure = function(v, where)
    if math.type(v) ~= 'integer' then
      fail('%s: expected an integer', where)
    end
  end,
  meta = list_of_strings,
  headers = list_of_strings,
  per_record = kind('table'),
  deferred_spool = kind('boolean'),
}

-- kumo: the stand-in module instance; state: its recorder; harness: harness/kumo.lua.
-- Returns the two helper modules.
function M.new(kumo, state, harness)
  standin = harness
  state.shaping = nil
  state.disposition_hooks = {}
  -- parameters the shaping stand-in returns from get_egress_path_config, as if they came from
  -- shaping.toml and TSA (the runner sets them to test the policy's layering)
  state.shaping_params = {}

  local shaping = {}

  function shaping.setup_with_automation(self, options)
    if self ~= shaping then
      fail('policy-extras.shaping: call setup_with_automation with a colon (shaping:setup_with_automation{...})')
    end
    if state.shaping then
      -- same as upstream
      fail('shaping module has already been configured')
    end
    standin.check_options('shaping:setup_with_automation', SHAPING_OPTIONS, options)

    -- the file list the helper builds: bundled defaults unless no_default_files, then
    -- extra_files, then <subscribe url>/get_config_v1/shaping.toml per subscription
    local files = {}
    if not options.no_default_files then
      table.insert(files, '/opt/kumomta/share/policy-extras/shaping.toml')
    end
    for _, f in ipairs(options.extra_files or {}) do
      table.insert(files, f)
    end
    for _, url in ipairs(options.subscribe or {}) do
      table.insert(files, url .. '/get_config_v1/shaping.toml')
    end

    local hooks = {}
    local record = {
      options = standin.copy(options),
      files = files,
      publish = standin.copy(options.publish or {}),
      subscribe = standin.copy(options.subscribe or {}),
      hook_queues = {},
      log_hooks_configured = {},
      subscriber_tasks = {},
      setup_publish_calls = 0,
    }
    state.shaping = record

    -- one log hook per publish URL, named '<url>.tsa.kumomta', delivered by a custom_lua
    -- constructor 'make.<hook name>' that the helper binds itself
    for _, url in ipairs(record.publish) do
      local hook_name = url .. '.tsa.kumomta'
      hooks[hook_name] = { url = url, constructor = 'make.' .. hook_name }
      table.insert(record.hook_queues, hook_name)
      state.register_custom('make.' .. hook_name, function()
        return {}
      end)
    end

    -- like upstream: a get_queue_config handler that answers for the publish queues only
    kumo.on('get_queue_config', function(domain)
      local hook = hooks[domain]
      if not hook then
        return nil
      end
      local params = { retry_interval = '1m', max_retry_interval = '20m' }
      for k, v in pairs(options.tsa_queue_config or {}) do
        params[k] = v
      end
      params.protocol = { custom_lua = { constructor = hook.constructor } }
      return kumo.make_queue_config(params)
    end)

    kumo.on('should_enqueue_log_record', function(_msg, hook_name)
      if not hooks[hook_name] then
        return nil
      end
      return false
    end)

    local configured = {}

    function configured.setup_publish()
      if state.phase ~= 'init' then
        fail('shaper.setup_publish() must be called from inside the init event handler (called during %s)', state.phase)
      end
      record.setup_publish_calls = record.setup_publish_calls + 1
      table.insert(state.init_calls, 'shaper.setup_publish')
      for _, hook_name in ipairs(record.hook_queues) do
        table.insert(record.log_hooks_configured, hook_name)
      end
      for _, url in ipairs(record.subscribe) do
        table.insert(record.subscriber_tasks, url)
      end
    end

    -- (domain, egress_source, site_name, skip_make): with skip_make the helper returns the raw
    -- parameters (refresh_strategy defaulted to 'Epoch') instead of a made egress path
    function configured.get_egress_path_config(domain, egress_source, site_name, skip_make)
      for i, arg in ipairs { domain, egress_source, site_name } do
        if type(arg) ~= 'string' then
          fail('shaper.get_egress_path_config: argument %d must be a string', i)
        end
      end
      local params = standin.copy(state.shaping_params)
      if params.refresh_strategy == nil then
        params.refresh_strategy = 'Epoch'
      end
      if skip_make then
        return params
      end
      return kumo.make_egress_path(params)
    end

    function configured.load_shaping_data()
      fail('shaper.load_shaping_data is not modelled by the harness')
    end

    return standin.strict('shaper', configured)
  end

  local log_hooks = {}

  function log_hooks.new_disposition_hook(self, options)
    if self ~= log_hooks then
      fail('policy-extras.log_hooks: call new_disposition_hook with a colon')
    end
    standin.check_options('log_hooks:new_disposition_hook', DISPOSITION_HOOK_OPTIONS, options)
    for _, existing in ipairs(state.disposition_hooks) do
      if existing.name == options.name then
        fail("log_hook with name '%s' has already been configured", options.name)
      end
    end
    local record = { name = options.name, configured = false }
    table.insert(state.disposition_hooks, record)
    -- upstream: kumo.configure_log_disposition_hook{name} in pre_init, and the hook bound to the
    -- event 'log_disposition_<name>'
    kumo.on('pre_init', function()
      record.configured = true
    end)
    state.register_custom('log_disposition_' .. options.name, options.hook)
  end

  -- log_hooks:new, as upstream: configure_log_hook{name, log_parameters...} in pre_init, a
  -- should_enqueue_log_record handler (the loop guard on reception_protocol 'LogRecord', then the
  -- user's filter, then queue '<name>.log_hook'), a get_queue_config handler for that queue with a
  -- custom_lua protocol, and the constructor bound to the event 'make.<name>.log_hook'
  state.log_hooks = {}
  function log_hooks.new(self, options)
    if self ~= log_hooks then
      fail('policy-extras.log_hooks: call new with a colon')
    end
    standin.check_options('log_hooks:new', LOG_HOOK_OPTIONS, options)
    standin.check_options('log_hooks:new log_parameters', CONFIGURE_LOG_HOOK_OPTIONS, options.log_parameters or {})
    if options.queue_config ~= nil then
      standin.check_options('log_hooks:new queue_config', standin.schemas.queue_config, options.queue_config)
    end
    for _, existing in ipairs(state.log_hooks) do
      if existing.name == options.name then
        fail("log_hook with name '%s' has already been configured", options.name)
      end
    end
    local domain_name = options.name .. '.log_hook'
    local constructor_name = 'make.' .. domain_name
    local record = { name = options.name, queue = domain_name, constructor = constructor_name, configured = nil }
    table.insert(state.log_hooks, record)

    kumo.on('pre_init', function()
      local params = { name = options.name }
      for k, v in pairs(options.log_parameters or {}) do
        params[k] = v
      end
      record.configured = standin.copy(params)
    end)

    kumo.on('should_enqueue_log_record', function(msg, hook_name)
      if hook_name ~= options.name then
        return nil
      end
      local log_record = msg:get_meta('log_record')
      if log_record.reception_protocol == 'LogRecord' then
        return false
      end
      if options.filter and options.filter(msg, hook_name) then
        return false
      end
      msg:set_meta('queue', domain_name)
      return true
    end)

    local params = { retry_interval = '1m', max_retry_interval = '20m' }
    for k, v in pairs(options.queue_config or {}) do
      params[k] = v
    end
    params.protocol = {
      custom_lua = {
        constructor = constructor_name,
        batch_size = options.batch_size or 1,
        min_batch_size = options.min_batch_size,
        max_batch_latency = options.max_batch_latency,
      },
    }
    kumo.on('get_queue_config', function(domain)
      if domain ~= domain_name then
        return nil
      end
      return kumo.make_queue_config(params)
    end)

    state.register_custom(constructor_name, options.constructor)
  end

  -- upstream registers a validate_config handler when the module is required (shaping.lua, end of
  -- file): under `kumod --validate` it loads every configured shaping file with the validation
  -- options (skip_remote unless told otherwise) and fails validation on any error
  local validate_registered = false
  function shaping.__on_require()
    if validate_registered then
      return
    end
    validate_registered = true
    kumo.on('validate_config', function()
      if not state.shaping then
        return
      end
      local options = state.shaping.options.validation_options
        or { local_load = 'Error', remote_load = 'Ignore', skip_remote = true }
      local result = kumo.shaping.load(state.shaping.files, options)
      for _, err in ipairs(result.get_errors()) do
        state.validation_errors[#state.validation_errors + 1] = err
      end
    end)
  end
  state.validation_errors = {}

  local function module(name, fields)
    return setmetatable(fields, {
      __index = function(_, key)
        fail('%s.%s is not modelled by the harness', name, tostring(key))
      end,
    })
  end

  return module('policy-extras.shaping', shaping), module('policy-extras.log_hooks', log_hooks)
end

return M
