-- usage.resty_worker: runs inside the Lua VMs of an nginx thread pool (ngx.run_worker_thread).
-- Each pool VM keeps its own libcurl sessions, so connections stay alive between calls; nothing
-- here touches the nginx event loop.

local core = require "usage.core"

local M = {}

local sessions = {} -- one per distinct set of session options

local function key_of(opts)
  return table.concat({
    tostring(opts.user_agent), tostring(opts.proxy), tostring(opts.ca_file),
    tostring(opts.insecure), tostring(opts.max_size),
  }, "\0")
end

-- request(session_opts, req) -> status, headers, body | nil, code, message
function M.request(opts, req)
  local key = key_of(opts)
  local s = sessions[key]
  if not s then
    s = core.session(opts)
    sessions[key] = s
  end
  local ok, status, headers, body = pcall(s.request, s, req)
  if not ok then return nil, "bad_request", tostring(status) end
  return status, headers, body
end

return M
