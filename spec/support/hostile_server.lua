-- support.hostile_server: the nginx side of spec/support/hostile.lua, a server that answers whatever a spec
-- scripts: lies, stalls, loops, echoes secrets. Runs in one nginx worker (all state in this module).
--
-- A script is Lua source returning function(req, state) -> answer. req = { method, path, query, uri (path
-- and query), headers (lower-case names), body, n (requests so far, this one included), origin
-- ("http://127.0.0.1:PORT") }; state is a table kept between requests of one script.
-- The answer is either status, headers, body (strings; body may be a table of pieces), or one table:
--   { status =, headers =, body = }          the same
--   { sleep = seconds, then = answer }         wait first (a stall), then answer
--   { drop = true }                            close the connection without an answer
--   { raw = "bytes" }                          write these bytes as the whole answer, then close

local cjson = require "cjson.safe"

local M = {}

local handler, state, log, count = nil, {}, {}, 0
local LOG_MAX = 2000

local function json_answer(status, value)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.print(cjson.encode(value))
end

-- /__hostile/script (POST Lua source), /__hostile/log (GET, DELETE), /__hostile/health
function M.control()
  local path = ngx.var.uri
  if path == "/__hostile/health" then return json_answer(200, { ok = true }) end
  if path == "/__hostile/log" then
    if ngx.req.get_method() == "DELETE" then log = {} end
    local out = setmetatable({}, cjson.array_mt)
    for i, e in ipairs(log) do out[i] = e end
    return json_answer(200, out)
  end
  if path == "/__hostile/script" then
    ngx.req.read_body()
    local source = ngx.req.get_body_data() or ""
    local chunk, err = load(source, "=script", "t")
    if not chunk then return json_answer(400, { error = err }) end
    local ok, fn = pcall(chunk)
    if not ok or type(fn) ~= "function" then
      return json_answer(400, { error = "the script must return a function: " .. tostring(fn) })
    end
    handler, state, log, count = fn, {}, {}, 0
    return json_answer(200, { ok = true })
  end
  return json_answer(404, { error = "no such control path" })
end

local function send(answer)
  if type(answer) ~= "table" then return end
  if answer.sleep then
    ngx.sleep(answer.sleep)
    return send(answer["then"] or { status = 200, body = "{}" })
  end
  if answer.drop then return ngx.exit(444) end
  if answer.raw then
    local sock = ngx.req.socket(true)
    if sock then sock:send(answer.raw) end
    return ngx.exit(444)
  end
  ngx.status = answer.status or 200
  ngx.header["Content-Type"] = "application/json"
  for k, v in pairs(answer.headers or {}) do ngx.header[k] = v end
  local body = answer.body or ""
  if type(body) == "table" then body = table.concat(body) end
  ngx.header["Content-Length"] = #body
  ngx.print(body)
end

function M.handle()
  ngx.req.read_body()
  count = count + 1
  local headers = {}
  for k, v in pairs(ngx.req.get_headers(100)) do
    headers[k:lower()] = type(v) == "table" and table.concat(v, ", ") or v
  end
  local req = {
    method = ngx.req.get_method(), path = ngx.var.uri, query = ngx.var.args or "",
    uri = ngx.var.request_uri, headers = headers, body = ngx.req.get_body_data() or "", n = count,
    origin = "http://127.0.0.1:" .. ngx.var.server_port,
  }
  if #log >= LOG_MAX then table.remove(log, 1) end
  ngx.update_time()
  log[#log + 1] = { method = req.method, path = req.path, query = req.query, headers = headers, body = req.body,
                    time = ngx.now() }
  if not handler then
    return send { status = 500, body = '{"message":"no script"}' }
  end
  local ok, a, b, c = pcall(handler, req, state)
  if not ok then
    ngx.log(ngx.ERR, "hostile script failed: ", tostring(a))
    return send { status = 599, body = cjson.encode({ script_error = tostring(a) }) }
  end
  if type(a) == "number" then a = { status = a, headers = b, body = c } end
  return send(a)
end

return M
