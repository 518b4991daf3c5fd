-- usage.runtime.resty_worker: runs inside the Lua VMs of an nginx thread pool (ngx.run_worker_thread, see
-- usage.runtime.resty). nginx keeps those VMs between tasks and gives each to one task at a time, so each
-- VM keeps its own libcurl sessions here and connections stay alive from one call to the next. A session
-- is keyed by what must not mix between clients (TLS, proxy, CA, user agent); timeouts and size caps come
-- with each request. Nothing here touches the nginx event loop; only plain values cross between VMs.

local core = require "usage.core"

local M = {}

-- The second value of a request that failed on its arguments: usage.runtime.resty raises the message in
-- the caller, as the blocking runtime does.
M.RAISE = "usage.runtime.resty_worker: raise"

local MAX_SESSIONS = 16 -- distinct option sets kept per VM; beyond that the cache starts afresh

local sessions, count = {}, 0

local function key_of(opts)
  return table.concat({
    tostring(opts.user_agent), tostring(opts.proxy), tostring(opts.no_env_proxy), tostring(opts.ca_file),
    tostring(opts.insecure), tostring(opts.http2),
  }, "\0")
end

-- -> session | nil, code, message (libcurl could not make or set up a handle)
local function session_for(opts)
  local key = key_of(opts)
  local s = sessions[key]
  if s and s:usable() then return s end
  if s then -- broken (see session:usable()): never reused
    s:close()
    sessions[key], count = nil, count - 1
  end
  if count >= MAX_SESSIONS then
    for _, old in pairs(sessions) do old:close() end
    sessions, count = {}, 0
  end
  local code, message
  s, code, message = core.session(opts)
  if not s then return nil, code, message end
  sessions[key] = s
  count = count + 1
  return s
end

-- request(session_opts, req) -> status, headers, body, correlation id, retry-after | nil, code, message
--   | nil, M.RAISE, message
function M.request(opts, req)
  local ok, s, code, message = pcall(session_for, opts or {})
  if not ok then return nil, M.RAISE, tostring(s) end
  if not s then return nil, code, message end
  local status, headers, body, correlation_id, retry_after
  ok, status, headers, body, correlation_id, retry_after = pcall(s.request, s, req)
  if not ok then return nil, M.RAISE, tostring(status) end
  return status, headers, body, correlation_id, retry_after
end

-- How many sessions this VM holds (for tests and diagnostics).
function M.stats()
  return { sessions = count }
end

return M
