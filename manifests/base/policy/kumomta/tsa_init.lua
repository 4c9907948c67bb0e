--[[
mailkind: the tsa-daemon policy (target release KumoMTA 2026.06.23-f3af1cd0).

  HTTP 8008   tsa.start_http_listener; trusted hosts = loopback + RELAY_NETWORKS. kumod pods
              publish logs (/publish_log_v1) and subscribe (/subscribe_event_v1,
              /get_config_v1) straight to the pod IP, and the default ACL lets only trusted
              hosts do that (assets/acls/default.toml). /tsa/status needs no auth (readiness).
  state       /var/spool/kumomta/tsa.db (+ tsa.db.state), an emptyDir in the TSA pod
  shaping     the same shaping.toml kumod loads, and nothing else

Environment (set by the kumomta-tsa StatefulSet; missing or malformed -> tsa-daemon refuses to start):
  RELAY_NETWORKS  comma-separated CIDRs of the cluster's pod network (and any other network kumod
                  pods connect from); same value as kumod's. Loopback is always added.

test/component/kumomta/ runs this file under lua5.4 with strict stand-in `kumo` and `tsa` modules.
]]

local kumo = require 'kumo'
-- the module exists only inside tsa-daemon (crates/tsa-daemon/src/mod_auto.rs)
local tsa = require 'tsa'

local function fail(fmt, ...)
  error('mailkind policy (tsa_init.lua): ' .. string.format(fmt, ...), 0)
end

-- Strict CIDR as kumod and tsa-daemon parse it (host bits must be zero); IPv6 checked for shape.
-- Same rules as init.lua: the two programs load separate ConfigMaps, so there is no shared module.
local function check_cidr(entry)
  local addr, bits = entry:match('^([^/]+)/(%d+)$')
  addr = addr or entry
  local octets = { addr:match('^(%d+)%.(%d+)%.(%d+)%.(%d+)$') }
  if #octets == 4 then
    local n = 0
    for _, o in ipairs(octets) do
      local v = tonumber(o)
      if v > 255 then
        fail('RELAY_NETWORKS: %q is not an IPv4 address', entry)
      end
      n = n * 256 + v
    end
    local prefix = tonumber(bits or '32')
    if prefix > 32 then
      fail('RELAY_NETWORKS: %q has a prefix longer than 32', entry)
    end
    if n % (1 << (32 - prefix)) ~= 0 then
      fail('RELAY_NETWORKS: %q has host bits set (use the network address)', entry)
    end
  elseif addr:match('^[%x:]+$') and addr:find(':.*:') then
    if bits and tonumber(bits) > 128 then
      fail('RELAY_NETWORKS: %q has a prefix longer than 128', entry)
    end
  else
    fail('RELAY_NETWORKS: %q is not an IP address or CIDR', entry)
  end
  return entry
end

local RELAY_NETWORKS = os.getenv('RELAY_NETWORKS')
if RELAY_NETWORKS == nil or RELAY_NETWORKS:match('^%s*$') then
  fail('environment variable RELAY_NETWORKS is not set (CIDRs of the kumod pods, trusted to publish)')
end

local TRUSTED_HOSTS = { '127.0.0.1', '::1' }
local networks = 0
for item in RELAY_NETWORKS:gmatch('[^,]+') do
  local trimmed = item:match('^%s*(.-)%s*$')
  if trimmed ~= '' then
    table.insert(TRUSTED_HOSTS, check_cidr(trimmed))
    networks = networks + 1
  end
end
if networks == 0 then
  fail('RELAY_NETWORKS lists no network')
end

-- the same file kumod's shaping helper loads (init.lua extra_files, no bundled defaults)
local SHAPING_FILES = { '/opt/kumomta/etc/policy/shaping.toml' }

kumo.on('tsa_init', function()
  -- must come before start_http_listener (docs/reference/tsa/configure_tsa_db_path.md);
  -- this is the default path, spelled out because the pod mounts a writable volume there
  tsa.configure_tsa_db_path('/var/spool/kumomta/tsa.db')
  -- same parameters as kumo.start_http_listener (docs/reference/tsa/start_http_listener.md);
  -- the default listen address is 127.0.0.1:8000
  tsa.start_http_listener {
    listen = '0.0.0.0:8008',
    trusted_hosts = TRUSTED_HOSTS,
  }
end)

-- tsa-daemon asks for the shaping data for each log record it evaluates, and once before
-- tsa_init (crates/tsa-daemon/src/main.rs), so cache it (docs/reference/kumo/memoize.md) for a
-- minute, like kumod's helper does (cache_ttl default).
local load_shaping = kumo.memoize(kumo.shaping.load, {
  name = 'mailkind_tsa_shaping_data',
  ttl = '1 minute',
  capacity = 4,
})

kumo.on('tsa_load_shaping_data', function()
  return load_shaping(SHAPING_FILES)
end)
