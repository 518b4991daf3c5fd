-- usage.resty: the runtime inside OpenResty/nginx. HTTP runs in an nginx thread pool through
-- ngx.run_worker_thread (the same C core, with keep-alive sessions inside each pool VM, see
-- usage.resty_worker), waits use ngx.sleep and usage.gather uses ngx.thread, so the worker never
-- blocks. Phases that cannot yield get `nil, err` (err.code "nginx_phase") at once instead of a hang
-- or a blocked worker.
--
-- What ngx_http_lua 0.10.23 allows (checked on Debian's nginx 1.22.1): ngx.sleep and
-- ngx.run_worker_thread work in rewrite, access, content and timer; in init, init_worker, set,
-- header_filter, body_filter and log both raise ("API disabled in the context of ...", or "no
-- request found" in init). Everything else (ssl_*, balancer, exit_worker, ...) is treated as unable
-- to yield too. Inside a thread pool VM ngx.get_phase() says "init".

local core = require "usage.core"
local errors = require "usage.errors"
local worker = require "usage.resty_worker"

local ngx = ngx -- luacheck: ignore (the nginx global; this module is only loaded inside nginx)

local M = {}

-- phases where ngx.sleep and ngx.run_worker_thread may be used
local YIELDABLE = { rewrite = true, access = true, content = true, timer = true }
M.YIELDABLE = YIELDABLE

local WORKER_MODULE = "usage.resty_worker"
local RAISE = worker.RAISE

local rt = { name = "resty", now = core.now }

function rt.sleep(seconds)
  if not seconds or seconds <= 0 then return end
  -- ngx.sleep counts whole milliseconds, and ngx.sleep(0) only yields (with a warning in the
  -- error log on nginx builds without the delayed-events patch)
  if seconds < 0.001 then seconds = 0.001 end
  ngx.sleep(seconds)
end

local function pool_hint(name)
  return " (nginx.conf needs `thread_pool " .. name .. " threads=4;` in its main context, and " ..
         "lua_package_path/lua_package_cpath must reach usage.resty_worker and usage.core)"
end

-- ngx.run_worker_thread runs each task on a Lua VM of its own, held from submission to the answer;
-- a worker has at most lua_worker_thread_vm_pool_size of them, and when all are busy the call fails
-- at once with this message. Such calls wait here (a semaphore posted whenever one of our tasks
-- ends, with a short timeout for VMs that other code frees) instead of failing.
local NO_VM = "no available Lua vm"
local VM_WAIT_STEP = 0.1
local vm_free  -- ngx.semaphore, made on first need
local vm_waiting = 0

local function wait_for_vm(seconds)
  if vm_free == nil then
    local ok, semaphore = pcall(require, "ngx.semaphore")
    vm_free = ok and semaphore.new(0) or false
  end
  vm_waiting = vm_waiting + 1
  if vm_free then vm_free:wait(seconds) else ngx.sleep(math.min(seconds, 0.005)) end
  vm_waiting = vm_waiting - 1
end

-- request(pool, req) -> status, headers, body | nil, code, message. pool.thread_pool names the
-- nginx thread pool, pool.opts holds the session options (plain values only: they are copied into
-- the pool VM).
function rt.request(pool, req)
  local name = pool.thread_pool or "usage"
  local deadline
  -- only what the transport reads crosses into the pool VM (the client's request table also links
  -- to the operation's description)
  local task = { method = req.method, url = req.url, headers = req.headers, body = req.body }
  while true do
    local ok, status, headers, body, correlation_id = ngx.run_worker_thread(name, WORKER_MODULE, "request",
      pool.opts, task)
    if ok or status ~= NO_VM then
      if vm_waiting > 0 and vm_free then vm_free:post(1) end -- the VM this task held is free again
      if not ok then
        return nil, "thread_pool", "ngx.run_worker_thread failed: " .. tostring(status) .. pool_hint(name)
      end
      if status == nil and headers == RAISE then error(body, 0) end
      return status, headers, body, correlation_id
    end
    local now = core.now()
    deadline = deadline or now + (pool.opts.timeout or 16)
    if now >= deadline then
      return nil, "thread_pool", "every Lua VM of the worker thread pool stayed busy for " ..
        string.format("%g", pool.opts.timeout or 16) .. " s (raise lua_worker_thread_vm_pool_size)"
    end
    wait_for_vm(math.min(VM_WAIT_STEP, deadline - now))
  end
end


local function phase_error(phase)
  return errors.new {
    code = "nginx_phase",
    phase = phase,
    message = "usage cannot make requests in the nginx '" .. tostring(phase) .. "' phase, which cannot " ..
              "yield; call it from rewrite_by_lua*, access_by_lua*, content_by_lua* or a timer (ngx.timer.at)",
  }
end
M.phase_error = phase_error

-- runtime() -> rt | nil, err
function M.runtime()
  local phase = ngx.get_phase()
  if YIELDABLE[phase] then return rt end
  return nil, phase_error(phase)
end

-- gather(fns) with nginx light threads: results[i], errs[i] are the first two values function i
-- returned, or nil and the value it raised (an error table stays a table).
function M.gather(fns)
  local n = #fns
  local results, errs = {}, {}
  local phase = ngx.get_phase()
  if not YIELDABLE[phase] then
    for i = 1, n do errs[i] = phase_error(phase) end
    return results, errs
  end
  local threads = {}
  for i = 1, n do
    local fn = fns[i]
    local t, why = ngx.thread.spawn(function() return pcall(fn) end)
    if t then
      threads[i] = t
    else
      errs[i] = errors.new { code = "nginx_thread", message = "ngx.thread.spawn failed: " .. tostring(why) }
    end
  end
  for i = 1, n do
    local t = threads[i]
    if t then
      local ok, fine, a, b = ngx.thread.wait(t)
      if not ok then
        errs[i] = fine -- the light thread was killed
      elseif fine then
        results[i], errs[i] = a, b
      else
        errs[i] = a
      end
    end
  end
  return results, errs
end

return M
