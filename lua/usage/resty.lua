-- usage.resty: the runtime inside OpenResty/nginx. HTTP runs in an nginx thread pool through
-- ngx.run_worker_thread (the same C core, with keep-alive sessions inside each pool thread, see
-- usage.resty_worker), waits use ngx.sleep and usage.gather uses ngx.thread, so the worker never
-- blocks. Phases that cannot yield get an error at once instead of a hang.

local core = require "usage.core"
local errors = require "usage.errors"

local M = {}

-- phases where ngx.sleep and ngx.run_worker_thread may be used
local YIELDABLE = { rewrite = true, access = true, content = true, timer = true }
M.YIELDABLE = YIELDABLE

local rt = { name = "resty", now = core.now }

function rt.sleep(seconds)
  if seconds > 0 then ngx.sleep(seconds) end -- luacheck: ignore (the nginx global)
end

function rt.request(pool, req)
  local ok, status, headers, body = ngx.run_worker_thread( -- luacheck: ignore
    pool.thread_pool, "usage.resty_worker", "request", pool.opts, req)
  if not ok then
    return nil, "thread_pool", "ngx.run_worker_thread failed: " .. tostring(status) ..
      " (nginx.conf needs `thread_pool " .. tostring(pool.thread_pool) .. " threads=4;` at the top level)"
  end
  return status, headers, body
end

M.rt = rt

local function phase_error(phase)
  return errors.new {
    code = "nginx_phase",
    message = "usage cannot make requests in the nginx '" .. tostring(phase) .. "' phase, which cannot " ..
              "yield; call it from rewrite/access/content_by_lua* or from a timer (ngx.timer.at)",
  }
end

-- runtime() -> rt | nil, err
function M.runtime()
  local phase = ngx.get_phase() -- luacheck: ignore
  if YIELDABLE[phase] then return rt end
  return nil, phase_error(phase)
end

-- gather(fns) with nginx light threads.
function M.gather(fns)
  local phase = ngx.get_phase() -- luacheck: ignore
  if not YIELDABLE[phase] then
    local err = phase_error(phase)
    local errs = {}
    for i = 1, #fns do errs[i] = err end
    return {}, errs
  end
  local threads = {}
  for i, fn in ipairs(fns) do
    threads[i] = ngx.thread.spawn(fn) -- luacheck: ignore
  end
  local results, errs = {}, {}
  for i, t in ipairs(threads) do
    local ok, a, b = ngx.thread.wait(t) -- luacheck: ignore
    if ok then results[i], errs[i] = a, b else errs[i] = a end
  end
  return results, errs
end

return M
