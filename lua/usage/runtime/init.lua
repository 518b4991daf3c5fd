-- usage.runtime: where a request, a sleep or a wait runs; chosen here and nowhere else.
--   inside a usage.gather coroutine          usage.runtime.gather (libcurl multi, yields)
--   inside nginx, in a phase that can yield   usage.runtime.resty (thread pool, ngx.sleep)
--   anywhere else                             usage.runtime.blocking
-- Each runtime has the same small interface: name, now(), sleep(s) -> true | nil, err,
-- request(transport, req) -> status, raw headers, body, correlation id, retry-after | nil, code, message,
-- event() -> ev (ev:wait([timeout]), ev:post()), gather(fns) -> results, errs.

local gather = require "usage.runtime.gather"
local blocking = require "usage.runtime.blocking"
local resty = require "usage.runtime.resty" -- loaded with the library: nginx workers need no file after fork

local M = {}

-- current() -> runtime | nil, err (an nginx phase that cannot yield)
function M.current()
  if gather.current() then return gather.runtime end
  if resty.inside then return resty.current() end
  return blocking
end

-- gather(fns) -> results, errs, on the runtime of the caller (a new scheduler from a plain script)
function M.gather(fns)
  if gather.current() then return gather.gather(fns) end
  if resty.inside then return resty.gather(fns) end
  return gather.gather(fns)
end

-- shared_store(name) -> store | nil, message (a lua_shared_dict; only inside nginx)
M.shared_store = resty.shared_store

return M
