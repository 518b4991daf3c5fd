-- support.store: the two backends of usage.store for specs that run one body against both.
--
--   local backends = require("support.store").backends()     -- { sqlite, postgresql }
--   for _, B in ipairs(backends) do
--     describe("... (" .. B.name .. ")", function()
--       setup(function() B:start() end)       -- PostgreSQL: a private server (support.postgres)
--       teardown(function() B:stop() end)
--       local target = B:target("t1")         -- a new, empty store target: a file path or a database URL
--       B:shell(target, "SELECT ...")         -- plain SQL through sqlite3 / psql: "a|b\n..." (outside the library)
--     end)
--   end

local nginx = require "support.nginx"
local postgres = require "support.postgres"

local M = {}

local sh_quote, read_file = nginx.sh_quote, nginx.read_file

local Backend = {}
Backend.__index = Backend

function Backend:start()
  if self.started then return end
  self.started = true
  self.dir = nginx.temp_dir("usage-store-spec")
  if self.name == "postgresql" then self.pg = postgres.start() end
end

function Backend:stop()
  if self.pg then self.pg:stop() end
  self.pg = nil
  if self.dir then nginx.remove_dir(self.dir) end
  self.dir = nil
  self.started = false
end

-- target(name) -> a new, empty store target
function Backend:target(name)
  assert(name:match("^[%w_]+$"), "support.store: a target name is a plain word")
  if self.name == "sqlite" then
    local path = self.dir .. "/" .. name .. ".sqlite3"
    os.remove(path)
    os.remove(path .. "-journal")
    return path
  end
  return self.pg:database(name)
end

-- shell(target, sql) -> the output of sqlite3 or psql ('|' between columns, one line a row); raises
function Backend:shell(target, sql)
  if self.name == "postgresql" then
    return self.pg:psql(target:match("/([%w_]+)$"), sql)
  end
  local out_file = os.tmpname()
  local ok = nginx.run("sqlite3 -batch -noheader -bail " .. sh_quote(target) .. " " .. sh_quote(sql) .. " >" ..
                       sh_quote(out_file) .. " 2>&1")
  local out = read_file(out_file) or ""
  os.remove(out_file)
  if not ok then error("support.store: sqlite3 " .. sql .. ":\n" .. out, 2) end
  return out
end

-- lines(target, sql) -> array of arrays of the columns' text
function Backend:lines(target, sql)
  local out = {}
  for line in self:shell(target, sql):gmatch("[^\n]+") do
    local cols = {}
    for c in (line .. "|"):gmatch("([^|]*)|") do cols[#cols + 1] = c end
    out[#out + 1] = cols
  end
  return out
end

function M.backends()
  return { setmetatable({ name = "sqlite" }, Backend), setmetatable({ name = "postgresql" }, Backend) }
end

-- api_row{ date, client, name, uri, method, requests, s200, s300, s400, s429, s500 } -> an aggregates row
function M.api_row(t)
  local requests = t.requests or 0
  return {
    date = t.date, oauthClient = t.client and { id = t.client, name = t.name } or nil,
    templateUri = t.uri, httpMethod = t.method,
    requestCount = requests, status200 = t.s200 or requests, status300 = t.s300 or 0, status400 = t.s400 or 0,
    status429 = t.s429 or 0, status500 = t.s500 or 0,
  }
end

-- a deterministic set of rows for days first..last (day numbers): clients x endpoints, some missing
function M.rows_for(first, last, opts)
  opts = opts or {}
  local interval = require "usage.base.interval"
  local out = {}
  local nclients, nuris = opts.clients or 4, opts.uris or 3
  for d = first, last do
    for c = 1, nclients do
      for u = 1, nuris do
        if (d + c + u) % 5 ~= 0 then -- holes: not every client calls every endpoint every day
          local req = (d % 97) * 1000 + c * 100 + u
          out[#out + 1] = M.api_row { date = interval.date(d), client = "client-" .. c, name = "Client " .. c,
            uri = "api/v2/thing" .. u .. "/{id}", method = (u % 2 == 0) and "POST" or "GET", requests = req,
            s200 = req - 3, s300 = 1, s400 = 2, s429 = 1, s500 = 0 }
        end
      end
    end
  end
  return out
end

-- run a Lua snippet in a new interpreter (the one running the specs) from the repository, optionally as
-- another user (as root: to meet file permissions, which root ignores); -> exit code, stdout, stderr
function M.lua(code, opts)
  opts = opts or {}
  local interp = (type(jit) == "table") and "luajit" or "lua5.4"
  local build = (type(jit) == "table") and "build/luajit" or "build/lua5.4"
  local repo = require("fakecloud").repo
  local dir = nginx.temp_dir("usage-store-lua")
  local script = dir .. "/snippet.lua"
  nginx.write_file(script, "package.path = " .. string.format("%q", repo .. "/lua/?.lua;" .. repo ..
    "/lua/?/init.lua;" .. repo .. "/spec/?.lua;" .. repo .. "/spec/?/init.lua;") .. " .. package.path\n" ..
    "package.cpath = " .. string.format("%q", repo .. "/" .. build .. "/?.so;") .. " .. package.cpath\n" .. code)
  local cmd = interp .. " " .. sh_quote(script)
  if opts.user then
    nginx.run("chmod 755 " .. sh_quote(dir) .. " && chmod 644 " .. sh_quote(script))
    cmd = "runuser -u " .. opts.user .. " -- " .. cmd
  end
  local env = ""
  for k, v in pairs(opts.env or {}) do env = env .. k .. "=" .. sh_quote(v) .. " " end
  nginx.run("cd " .. sh_quote(repo) .. " && " .. env .. cmd .. " >" .. sh_quote(dir .. "/out") .. " 2>" ..
            sh_quote(dir .. "/err") .. "; echo $? >" .. sh_quote(dir .. "/rc"))
  local rc, out, err = tonumber(read_file(dir .. "/rc")), read_file(dir .. "/out") or "", read_file(dir .. "/err") or ""
  nginx.remove_dir(dir)
  return rc, out, err
end

return M
