--[[
mailkind: the kumod policy (target release KumoMTA 2026.06.23-f3af1cd0).

What it sets up (docs/contract.md "Mail flows", manifests/README.md):
  spool       LocalDisk data + meta under /var/spool/kumomta (the per-pod PVC)
  logs        zstd segments in /var/log/kumomta, and one JSON line per log record on stdout
  HTTP 8000   POST /api/inject/v1 needs basic auth (KUMO_HTTP_USER / KUMO_HTTP_PASSWORD);
              only loopback is a trusted host, so auth holds through the NodePort (a client
              arrives from a cluster address); a `kubectl port-forward` arrives as loopback and
              is trusted without credentials
  SMTP 2525   inbound: accepts recipients in lists.mailkind.test only, from anyone
  SMTP 2587   relay: any recipient, from RELAY_NETWORKS and loopback only
  routing     lists.mailkind.test -> LMTP mailman-core.<ns>.svc.cluster.local:8024, TLS off
              every other domain  -> smtp-sink.<ns>.svc.cluster.local:2525, STARTTLS without
                                     certificate checks (OpportunisticInsecure)
  retries     first retry after 5 s, then every 10 s; a message expires after 5 minutes
              (SkipList queues, so these hold to the second; see QUEUE_STRATEGY)
  throttle    throttled.mailkind.test: at most 10 messages/s across all kumod replicas
              (scheduled-queue max_message_rate, shared through Dragonfly; burst 10)
  shaping     publishes to every TSA pod, subscribes through the kumomta-tsa Service
  throttles   shared through Dragonfly (configure_redis_throttles)

Environment (set by the kumomta StatefulSet; missing or malformed -> kumod refuses to start):
  POD_NAMESPACE, KUMO_HTTP_USER, KUMO_HTTP_PASSWORD, TSA_REPLICAS, RELAY_NETWORKS.
  KUMO_NODE_ID_PATH is read by kumod itself (docs/userguide/clustering/nodeid.md), not here.

Doc paths in comments are relative to the KumoCorp/kumomta repository at that release.
test/component/kumomta/ runs this file under lua5.4 with a strict stand-in `kumo` module.
]]

local kumo = require 'kumo'
-- /opt/kumomta/share is on package.path (crates/config/src/lib.rs); both helpers ship in the image
local shaping = require 'policy-extras.shaping'
local log_hooks = require 'policy-extras.log_hooks'

-------------------------------------------------------------------------------
-- Environment. Every variable is read with a literal os.getenv call (tests scan for them).

local ENV = {
  POD_NAMESPACE = os.getenv('POD_NAMESPACE'),
  KUMO_HTTP_USER = os.getenv('KUMO_HTTP_USER'),
  KUMO_HTTP_PASSWORD = os.getenv('KUMO_HTTP_PASSWORD'),
  TSA_REPLICAS = os.getenv('TSA_REPLICAS'),
  RELAY_NETWORKS = os.getenv('RELAY_NETWORKS'),
  -- optional: 'off' leaves the journey hook out, to measure what it costs (docs/journey.md)
  MAILKIND_JOURNEY_HOOK = os.getenv('MAILKIND_JOURNEY_HOOK'),
}

local function fail(fmt, ...)
  -- level 0: the message is the whole error, without a file:line prefix
  error('mailkind policy (init.lua): ' .. string.format(fmt, ...), 0)
end

local function required(name, meaning)
  local value = ENV[name]
  if value == nil or value:match('^%s*$') then
    fail('environment variable %s is not set (%s); see manifests/README.md', name, meaning)
  end
  return value
end

-- Strict CIDR, as kumod wants it (docs/reference/kumo/start_esmtp_listener/relay_hosts.md:
-- "192.168.1.0/24 is valid but 192.168.1.1/24 is not"). IPv6 is only checked for shape.
local function check_cidr(entry, source)
  local addr, bits = entry:match('^([^/]+)/(%d+)$')
  addr = addr or entry
  local octets = { addr:match('^(%d+)%.(%d+)%.(%d+)%.(%d+)$') }
  if #octets == 4 then
    local n = 0
    for _, o in ipairs(octets) do
      local v = tonumber(o)
      if v > 255 then
        fail('%s: %q is not an IPv4 address', source, entry)
      end
      n = n * 256 + v
    end
    local prefix = tonumber(bits or '32')
    if prefix > 32 then
      fail('%s: %q has a prefix longer than 32', source, entry)
    end
    if n % (1 << (32 - prefix)) ~= 0 then
      fail('%s: %q has host bits set (kumod needs the network address)', source, entry)
    end
  elseif addr:match('^[%x:]+$') and addr:find(':.*:') then
    if bits and tonumber(bits) > 128 then
      fail('%s: %q has a prefix longer than 128', source, entry)
    end
  else
    fail('%s: %q is not an IP address or CIDR', source, entry)
  end
  return entry
end

local function parse_networks(name, value)
  local list = {}
  for item in value:gmatch('[^,]+') do
    local trimmed = item:match('^%s*(.-)%s*$')
    if trimmed ~= '' then
      table.insert(list, check_cidr(trimmed, name))
    end
  end
  if #list == 0 then
    fail('%s lists no network', name)
  end
  return list
end

local NAMESPACE = required('POD_NAMESPACE', 'downward API metadata.namespace')
if #NAMESPACE > 63 or not NAMESPACE:match('^[a-z0-9][-a-z0-9]*$') or NAMESPACE:match('%-$') then
  fail('POD_NAMESPACE %q is not a Kubernetes namespace name', NAMESPACE)
end

local HTTP_USER = required('KUMO_HTTP_USER', 'Secret kumomta-http, key username')
if HTTP_USER:find(':', 1, true) then
  fail('KUMO_HTTP_USER must not contain ":" (HTTP basic auth cannot carry it)')
end
local HTTP_PASSWORD = required('KUMO_HTTP_PASSWORD', 'Secret kumomta-http, key password')

local tsa_digits = required('TSA_REPLICAS', 'number of kumomta-tsa pods'):match('^%s*(%d+)%s*$')
local TSA_REPLICAS = tsa_digits and tonumber(tsa_digits)
if TSA_REPLICAS == nil or TSA_REPLICAS < 1 or TSA_REPLICAS > 32 then
  fail('TSA_REPLICAS %q is not a whole number from 1 to 32', ENV.TSA_REPLICAS)
end

local RELAY_NETWORKS = parse_networks('RELAY_NETWORKS', required('RELAY_NETWORKS', 'CIDRs allowed to relay on 2587'))

-------------------------------------------------------------------------------
-- Names and dev settings. The e2e suite relies on these values (see the header).

-- KumoMTA treats every name as fully qualified, so resolv.conf search domains never apply
-- (crates/dns-resolver/src/lib.rs fully_qualify, used by ip_lookup): spell out in-cluster names.
local function fqdn(service)
  return string.format('%s.%s.svc.cluster.local', service, NAMESPACE)
end

local LIST_DOMAIN = 'lists.mailkind.test'
local THROTTLED_DOMAIN = 'throttled.mailkind.test'
-- docs/reference/kumo/make_queue_config/max_message_rate.md; "10/s" has max_burst 10
-- (crates/throttle/src/lib.rs: max_burst defaults to the limit)
local THROTTLED_RATE = '10/s'
-- docs/reference/kumo/make_queue_config/retry_interval.md: the delay doubles per attempt and is
-- capped by max_retry_interval, so attempts land at about 0, 5, 15, 25, 35 ... seconds
local RETRY_INTERVAL = '5s'
local MAX_RETRY_INTERVAL = '10s'
local MAX_AGE = '5 minutes'
-- The scheduled queues' strategy (docs/reference/kumo/make_queue_config/strategy.md). The default,
-- SingletonTimerWheel, is one wheel for all queues that kumod pops every 3 s and whose clock moves
-- only when popped (crates/kumod/src/queue/strategy.rs, maintainer.rs run_singleton_wheel_v1,
-- crates/timeq), so a retry due after 5 s comes 3-6 s after the failure and the second about 12 s
-- after. SkipList keeps each queue's messages ordered by due time (whole seconds) and its maintainer
-- sleeps until the first one is due or a sooner one arrives (maintainer.rs), so retries and throttle
-- delays land on the second the policy says. That costs a task per queue: fine for a development
-- stack with a handful of destination domains, not what upstream recommends for millions of queues.
local QUEUE_STRATEGY = 'SkipList'

-- mx_list entries may carry a port since 2025.10.06 (docs/reference/kumo/make_queue_config/protocol.md)
local MAILMAN_LMTP = fqdn('mailman-core') .. ':8024'
local SINK_SMTP = fqdn('smtp-sink') .. ':2525'
local DRAGONFLY_URL = 'redis://' .. fqdn('dragonfly') .. ':6379/'

-- every kumod publishes to every TSA pod, and may subscribe through one name
-- (docs/userguide/clustering/trafficshapingautomation.md); pods of the kumomta-tsa StatefulSet are
-- kumomta-tsa-<i>.kumomta-tsa.<ns>.svc.cluster.local
local TSA_SERVICE_URL = 'http://' .. fqdn('kumomta-tsa') .. ':8008'
local TSA_PUBLISH_URLS = {}
-- the helper names the log-hook queue of each publish URL '<url>.tsa.kumomta'
-- (assets/policy-extras/shaping.lua, setup_with_automation)
local TSA_HOOK_QUEUES = {}
for i = 0, TSA_REPLICAS - 1 do
  local url = string.format('http://kumomta-tsa-%d.%s:8008', i, fqdn('kumomta-tsa'))
  table.insert(TSA_PUBLISH_URLS, url)
  TSA_HOOK_QUEUES[url .. '.tsa.kumomta'] = true
end

-- the ConfigMap kumomta-policy is mounted here; tsa_init.lua loads the same shaping file
local SHAPING_FILE = '/opt/kumomta/etc/policy/shaping.toml'

local LOOPBACK = { '127.0.0.1', '::1' }
local RELAY_HOSTS = { table.unpack(LOOPBACK) }
for _, cidr in ipairs(RELAY_NETWORKS) do
  table.insert(RELAY_HOSTS, cidr)
end

-------------------------------------------------------------------------------
-- Traffic shaping automation. Set up before our own get_queue_config handler: the helper
-- registers one that routes its TSA publish queues, and handlers run in registration order
-- (docs/reference/events/get_queue_config.md).

local shaper = shaping:setup_with_automation {
  publish = TSA_PUBLISH_URLS,
  subscribe = { TSA_SERVICE_URL },
  -- skip the bundled /opt/kumomta/share/policy-extras/shaping.toml: its ["default"] block is tuned
  -- for internet destinations, and its provider blocks do public MX lookups when loaded
  no_default_files = true,
  extra_files = { SHAPING_FILE },
  -- log records for TSA: retry quickly, and give up after a while if a TSA pod is gone
  -- (any make_queue_config option; the helper's defaults are 1m / 20m)
  tsa_queue_config = {
    retry_interval = '10s',
    max_retry_interval = '1m',
    max_age = '10 minutes',
  },
}

-- every log record to the sink's journey view (journey.lua, docs/journey.md); before our catch-all get_queue_config
local JOURNEY_HOOK = ENV.MAILKIND_JOURNEY_HOOK or 'on'
if JOURNEY_HOOK ~= 'on' and JOURNEY_HOOK ~= 'off' then
  fail('MAILKIND_JOURNEY_HOOK must be on or off (unset means on), got %q', JOURNEY_HOOK)
end
if JOURNEY_HOOK == 'on' then
  require('journey').setup { url = 'http://' .. fqdn('smtp-sink') .. ':8025/api/journey/records' }
end

-------------------------------------------------------------------------------
-- Delivery logs on stdout. KumoMTA has no stdout log option (docs/faq/shipping_logs.md); a
-- disposition hook runs a Lua function for every log record without queueing anything
-- (log_hooks:new_disposition_hook, example in docs/reference/kumo/generate_rfc3464_message.md;
-- assets/policy-extras/log_hooks.lua). Diagnostics stay on stderr.

log_hooks:new_disposition_hook {
  name = 'stdout',
  hook = function(_msg, record)
    local ok, line = pcall(kumo.serde.json_encode, record)
    if ok then
      print(line)
    else
      kumo.log_warn('mailkind: cannot encode a log record for stdout: ' .. tostring(line))
    end
  end,
}

-------------------------------------------------------------------------------
-- Process start

kumo.on('init', function()
  -- docs/reference/kumo/define_spool/kind.md. LocalDisk: one file per message, no RocksDB
  -- buffers, which suits a pod limited to a few hundred MiB.
  kumo.define_spool { name = 'data', path = '/var/spool/kumomta/data', kind = 'LocalDisk' }
  kumo.define_spool { name = 'meta', path = '/var/spool/kumomta/meta', kind = 'LocalDisk' }

  -- short segments, so a finished segment can be read (tailer) soon after the traffic. kumod never
  -- deletes segments: the pod's log-pruner container keeps the directory within its budget, and
  -- max_file_size (bytes, LogFileParams in crates/kumod/src/logging/files.rs; default 1 GB) keeps
  -- one segment far below that budget.
  kumo.configure_local_logs {
    log_dir = '/var/log/kumomta',
    max_segment_duration = '10s',
    max_file_size = 16 * 1024 * 1024,
  }

  -- shared throttles and connection limits (docs/reference/kumo/configure_redis_throttles.md);
  -- Dragonfly serves CL.THROTTLE, and kumod falls back to a Lua GCRA without it.
  -- This call PINGs Dragonfly even under `kumod --validate` (crates/kumo-server-common/src/lib.rs
  -- configure_redis_throttles has no validation-mode check), so skip it there: kumod sets the global
  -- _VALIDATING_CONFIG only in that mode (crates/config/src/lib.rs load_config), and `npm run
  -- validate` runs without a network. In the pod, the wait-for-dragonfly init container has already
  -- seen Dragonfly answer.
  if not _VALIDATING_CONFIG then
    kumo.configure_redis_throttles { node = DRAGONFLY_URL }
  end

  -- log hooks and subscriber tasks for TSA (assets/policy-extras/shaping.lua: call in init),
  -- before any listener takes traffic
  shaper.setup_publish()

  -- x_mailkind_listener lands in the connection metadata (since 2025.05.06,
  -- docs/reference/kumo/start_esmtp_listener/meta.md) and is copied to each message
  kumo.start_esmtp_listener {
    listen = '0.0.0.0:2525',
    -- Only loopback may relay here (kumod's default, spelled out); from anywhere else only
    -- get_listener_domain's relay_to opens lists.mailkind.test, and smtp_server_rcpt_to refuses
    -- any other recipient even from loopback. Never `{}`: EsmtpListenerParams flattens its
    -- options (crates/kumod/src/smtp_server.rs), so serde reads them through deserialize_any, where
    -- mlua makes an empty table a map, and CidrSet wants a sequence: kumod refuses to start with
    -- "invalid type: map, expected a sequence".
    relay_hosts = LOOPBACK,
    meta = { x_mailkind_listener = 'inbound' },
  }
  kumo.start_esmtp_listener {
    listen = '0.0.0.0:2587',
    relay_hosts = RELAY_HOSTS,
    meta = { x_mailkind_listener = 'relay' },
  }

  -- Last, so an open port 8000 means every listener is up.
  -- Only loopback is trusted: a trusted peer may inject without credentials under the default
  -- ACL (assets/acls/default.toml), and a NodePort connection arrives SNATed from a cluster
  -- address. Injection from anywhere else needs basic auth; /api/check-liveness/v1 needs none.
  -- /metrics and /api/admin/* stay loopback-only (kubectl exec ... kcli).
  kumo.start_http_listener {
    listen = '0.0.0.0:8000',
    trusted_hosts = LOOPBACK,
  }
end)

-------------------------------------------------------------------------------
-- Routing: scheduled queues

local function lower(s)
  return s and string.lower(s)
end

kumo.on('get_queue_config', function(domain, _tenant, _campaign, routing_domain)
  if TSA_HOOK_QUEUES[domain] then
    -- the shaping helper's own handler answers these first; never send them anywhere else
    return nil
  end
  local destination = lower(routing_domain or domain)
  local params = {
    retry_interval = RETRY_INTERVAL,
    max_retry_interval = MAX_RETRY_INTERVAL,
    max_age = MAX_AGE,
    strategy = QUEUE_STRATEGY,
  }
  if destination == LIST_DOMAIN then
    params.protocol = { smtp = { mx_list = { MAILMAN_LMTP } } }
  else
    params.protocol = { smtp = { mx_list = { SINK_SMTP } } }
  end
  if destination == THROTTLED_DOMAIN then
    -- per scheduled queue, so only this domain is slowed although it shares the sink's ready
    -- queue; with redis throttles the limit holds across replicas (crates/kumod/src/queue/queue.rs)
    params.max_message_rate = THROTTLED_RATE
  end
  return kumo.make_queue_config(params)
end)

-------------------------------------------------------------------------------
-- Routing: egress paths
--
-- A ready queue is keyed by egress source, site and protocol, and its path is configured from
-- the routing domain that first created it (crates/kumod/src/ready_queue.rs compute_queue_name):
-- every sink-bound domain shares one path, so the settings below depend on the class of the
-- destination only. Layering: our defaults, then the shaping data (shaping.toml + TSA overrides,
-- via the helper's skip_make flag, assets/policy-extras/shaping.lua), then the settings the
-- routing depends on, which nothing may override.

local EGRESS = {
  lmtp = {
    defaults = {
      connection_limit = 4,
      -- docs/reference/kumo/make_egress_path/system_shutdown_timeout.md (since 2025.05.06)
      system_shutdown_timeout = '15s',
    },
    forced = {
      use_lmtp = true, -- docs/reference/kumo/make_egress_path/use_lmtp.md (since 2025.01.23)
      enable_tls = 'Disabled',
      -- the client reads one reply after DATA (crates/rfc5321/src/client.rs send_mail_multi_recip);
      -- LMTP sends one per recipient, so keep one recipient per transaction
      max_recipients_per_batch = 1,
    },
  },
  sink = {
    defaults = {
      system_shutdown_timeout = '15s',
    },
    forced = {
      -- the sink offers STARTTLS with a self-signed certificate; "Opportunistic" (the default)
      -- would fail without falling back (docs/reference/kumo/make_egress_path/enable_tls.md)
      enable_tls = 'OpportunisticInsecure',
    },
  },
  -- the helper's publish queues; upstream puts these in shaping.toml under the hook's name
  -- (assets/policy-extras/shaping.toml, last section), which depends on the namespace here
  tsa = {
    defaults = {
      connection_limit = 'local:5',
      max_deliveries_per_connection = 8192,
      max_ready = 10000,
      system_shutdown_timeout = '30s',
    },
    forced = {},
  },
}

local function egress_class(routing_domain)
  if TSA_HOOK_QUEUES[routing_domain] then
    return EGRESS.tsa
  elseif lower(routing_domain) == LIST_DOMAIN then
    return EGRESS.lmtp
  end
  return EGRESS.sink
end

-- get_egress_path_config may have one handler only (docs/reference/events/get_egress_path_config.md)
kumo.on('get_egress_path_config', function(routing_domain, egress_source, site_name)
  local class = egress_class(routing_domain)
  local shaped = shaper.get_egress_path_config(routing_domain, egress_source, site_name, true)
  local params = {}
  for _, layer in ipairs { class.defaults, shaped, class.forced } do
    for key, value in pairs(layer) do
      params[key] = value
    end
  end
  return kumo.make_egress_path(params)
end)

-------------------------------------------------------------------------------
-- Reception

-- relay_to opens the list domain on every listener; everything else relays only from
-- relay_hosts (crates/kumod/src/smtp_server.rs check_relaying; otherwise
-- "550 5.7.1 relaying not permitted").
kumo.on('get_listener_domain', function(domain, _listener, _conn_meta)
  if lower(domain) == LIST_DOMAIN then
    return kumo.make_listener_domain { relay_to = true }
  end
  return nil
end)

local INBOUND_ONLY = string.format('5.7.1 this service accepts mail for %s only', LIST_DOMAIN)

-- Belt and braces on 2525: even if relay_hosts were widened, inbound takes the list domain only.
kumo.on('smtp_server_rcpt_to', function(recipient, conn_meta)
  if conn_meta:get_meta('x_mailkind_listener') == 'inbound' and lower(recipient.domain) ~= LIST_DOMAIN then
    kumo.reject(550, INBOUND_ONLY)
  end
end)

-- Add Date and Message-ID when a client left them out (Mailman and the sink's per-message records
-- want a Message-ID). Only missing headers are "fixed", so nothing else is rewritten
-- (docs/reference/message/check_fix_conformance.md). With no CHECKS nothing is refused: a problem
-- comes back as a string (crates/message/src/message.rs), and the message is kept as it is.
local function add_missing_headers(msg)
  local ok, problem = pcall(msg.check_fix_conformance, msg, '', 'MISSING_DATE_HEADER|MISSING_MESSAGE_ID_HEADER')
  if not ok or problem ~= nil then
    kumo.log_warn('mailkind: could not add missing headers, message kept unchanged: ' .. tostring(problem))
  end
end

kumo.on('smtp_server_message_received', function(msg, conn_meta)
  if conn_meta:get_meta('x_mailkind_listener') == 'inbound' then
    for _, recipient in ipairs(msg:recipient_list()) do
      if lower(recipient.domain) ~= LIST_DOMAIN then
        kumo.reject(550, INBOUND_ONLY)
      end
    end
  end
  add_missing_headers(msg)
end)

kumo.on('http_message_generated', function(msg, _auth_info)
  add_missing_headers(msg)
end)

-------------------------------------------------------------------------------
-- HTTP basic auth (docs/reference/events/http_server_validate_auth_basic.md; the password may be
-- absent). The comparison takes time depending on the expected value's length only.

local function same_secret(given, expected)
  if type(given) ~= 'string' then
    given = ''
  end
  local diff = #given ~ #expected
  for i = 1, #expected do
    diff = diff | ((string.byte(given, i) or 0) ~ string.byte(expected, i))
  end
  return diff == 0
end

kumo.on('http_server_validate_auth_basic', function(user, password)
  local user_ok = same_secret(user, HTTP_USER)
  local password_ok = same_secret(password, HTTP_PASSWORD)
  return user_ok and password_ok
end)
