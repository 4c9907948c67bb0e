--[[
mailkind: every kumod log record to the sink's journey view (docs/journey.md).

init.lua calls setup{ url = ... } at the top level, before its own get_queue_config handler (which
answers for every domain; handlers run in registration order, docs/reference/events/get_queue_config.md).

The mechanism is KumoMTA's documented log hook (doc paths relative to KumoCorp/kumomta at tag
2026.06.23-f3af1cd0): policy-extras.log_hooks `new` (assets/policy-extras/log_hooks.lua;
docs/userguide/operation/webhooks.md, "batched hooks"). kumod turns each log record into a message
(kumo.configure_log_hook, docs/reference/kumo/configure_log_hook.md), asks
should_enqueue_log_record whether to queue it (docs/reference/events/should_enqueue_log_record.md),
and delivers the queue 'journey.log_hook' with the Lua constructor below, which POSTs a batch of
records as one JSON array to the sink (kumo.http.build_client, docs/reference/kumo.http/).

  what       every record type (Reception, Delivery, TransientFailure, Bounce, Expiration,
             Rejection, AdminBounce, Delayed, ...), with the headers the sink joins on
  no loop    the helper drops records whose reception_protocol is 'LogRecord': the records of
             this hook's own deliveries (and of the TSA publish hooks) are never queued
  batching   up to BATCH_SIZE records per POST; a POST waits for MIN_BATCH records for at most
             MAX_LATENCY (crates/kumod/src/lua_deliver.rs LuaDeliveryProtocol; ready_queue.rs)
  sink down  the POST fails or times out (REQUEST_TIMEOUT): a transient failure of the batch, retried
             per QUEUE (jittered, docs/reference/kumo/make_queue_config/retry_interval.md) and
             dropped at max_age. The records wait in their own scheduled queue, never in front of
             mail: delivery does not block on the sink, and what waits is bounded by rate x max_age.
             deferred_spool keeps the records off the spool disk (configure_log_hook.md).
]]
local kumo = require 'kumo'
local log_hooks = require 'policy-extras.log_hooks'

local M = {}

M.HOOK_NAME = 'journey'
-- the headers the sink joins records on (it reads them from the record's `headers` field,
-- docs/reference/log_record.md); Message-ID exists on every message: init.lua adds it when missing
M.HEADERS = { 'Message-ID', 'X-Mailkind-Run', 'Subject', 'List-Id' }
M.BATCH_SIZE = 100
M.MIN_BATCH = 20
M.MAX_LATENCY = '1s'
M.REQUEST_TIMEOUT = '5s'
-- a sink that is down for longer than max_age loses those records, never kumod's memory
M.QUEUE = { retry_interval = '5s', max_retry_interval = '20s', max_age = '2 minutes' }

-- options: { url = 'http://<sink>:8025/api/journey/records' }
function M.setup(options)
  local url = options and options.url
  if type(url) ~= 'string' or not url:match('^https?://') then
    error('mailkind policy (journey.lua): setup needs url = "http://...", got ' .. tostring(url), 0)
  end

  log_hooks:new {
    name = M.HOOK_NAME,
    -- passed to kumo.configure_log_hook with the name
    log_parameters = { headers = M.HEADERS, deferred_spool = true },
    queue_config = M.QUEUE,
    batch_size = M.BATCH_SIZE,
    min_batch_size = M.MIN_BATCH,
    max_batch_latency = M.MAX_LATENCY,
    constructor = function(_domain, _tenant, _campaign)
      local connection = {}
      -- built at the first batch, so making a connection object costs nothing
      local client


      -- batch mode: kumod hands over 1..BATCH_SIZE queued records (webhooks.md "batched hooks")
      function connection:send_batch(messages)
        local records = {}
        for _, msg in ipairs(messages) do
          table.insert(records, msg:get_meta 'log_record')
        end
        client = client or kumo.http.build_client { timeout = M.REQUEST_TIMEOUT }
        -- a refused connection or a timeout raises here: a transient failure of the whole batch
        local response = client:post(url):header('Content-Type', 'application/json'):body(kumo.serde.json_encode(records)):send()
        local status = response:status_code()
        local disposition = string.format('%d %s', status, response:status_reason())
        if response:status_is_success() then
          return disposition
        end
        if status >= 400 and status < 500 then
          -- the sink refused this batch (invalid, too large, not allowed): sending it again
          -- would be refused again, so fail it for good
          kumo.reject(500, disposition .. ': ' .. response:text())
        end
        -- 5xx: the sink is starting or stopping; try again later
        kumo.reject(421, disposition)
      end

      function connection:close()
        if client then
          client:close()
        end
      end

      return connection
    end,
  }
end

return M
