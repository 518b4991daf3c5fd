-- spec/support/port.lua: a stand-in for the port of a client that usage.flows runs on (usage.client makes
-- the real one): call() answers from a script of decoded answers and records each call; url() and
-- locate() follow the rules of a client whose API is https://api.test. With support.script's runtime (for
-- sleeps and the clock) a flow runs in process, on no server.
--
--   local port = require("support.port").new { poll = { interval = 1, max_interval = 8, timeout = 300 } }
--   port:answer({ data = { id = "job-1" } }, { err = { status = 400, code = "x" } }, function(call) ... end)
--   flows.run(port, flows.by_name.aggregates, {}, body, opts)
--   port.calls[i] = { op = name, ids, query, body, headers, url, limits }

local errors = require "usage.base.errors"
local redact_mod = require "usage.base.redact"

local M = {}

M.ORIGIN = "https://api.test"

function M.new(o)
  o = o or {}
  local port = { calls = {}, queue = {}, redact = o.redact or redact_mod.new(),
                 poll = o.poll or { interval = 1, max_interval = 8, timeout = 300 }, validate = o.validate ~= false }

  function port:answer(...)
    for i = 1, select("#", ...) do self.queue[#self.queue + 1] = select(i, ...) end
    return self
  end

  port.call = function(op, ids, query, body, headers, url, limits)
    local c = { op = op.name, ids = ids, query = query, body = body, headers = headers, url = url, limits = limits }
    port.calls[#port.calls + 1] = c
    local a = table.remove(port.queue, 1)
    if a == nil then error("port: no answer left for " .. op.name, 0) end
    if type(a) == "function" then a = a(c) end
    local meta = a.meta or { status = a.err and a.err.status or 200 }
    if a.err then return nil, errors.new(a.err), meta end
    return a.data, nil, meta
  end

  port.url = function(op, ids) return M.ORIGIN .. op.build_path(ids[1], ids[2]) end

  port.locate = function(ref, from)
    if ref:match("^/[^/]") then return M.ORIGIN .. ref end
    if ref:sub(1, #M.ORIGIN + 1) == M.ORIGIN .. "/" then return ref end
    if ref:match("^%a[%w+.-]*:") or ref:match("^//") then
      return nil, "nextUri leads away from the API (" .. ref .. "): not followed"
    end
    return (from:gsub("[^/]*$", "")) .. ref
  end

  return port
end

return M
