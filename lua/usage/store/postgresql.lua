-- usage.store.postgresql: the PostgreSQL side of a store (LuaDBI's dbd.postgresql): connecting (the
-- password goes to libpq as its own argument, never in a string the store shows), the session's
-- settings, and what the server's messages mean.

local target = require "usage.store.target"

local M = { name = "postgresql", BEGIN = "BEGIN", MAX_PLACEHOLDERS = 999 }

local CODES = {
  { "out of range", "overflow" }, { "numeric field overflow", "overflow" },
  { "could not extend file", "full" }, { "No space left on device", "full" },
  { "read-only transaction", "readonly" },
  { "permission denied", "permission" },
  { "password authentication failed", "auth" },
  { "server closed the connection", "connection" }, { "no connection to the server", "connection" },
  { "terminating connection", "connection" }, { "Database disconnected", "connection" },
  { "connection to server", "connection" }, { "could not connect", "connection" },
  { "could not receive data", "connection" }, { "could not send data", "connection" },
  { "lock timeout", "busy" },
  { "Statement unavailable: database closed", "connection" }, -- LuaDBI: the connection is gone
}

function M.classify(message)
  local text = message:gsub("^Error executing statement parameters: ", ""):gsub("^Error preparing statement handle: ", "")
  text = text:gsub("\n%s*CONTEXT:.*$", ""):gsub("%s+$", "")
  for _, c in ipairs(CODES) do
    if message:find(c[1], 1, true) then
      if c[2] == "overflow" then
        text = "a figure is beyond 2^63-1, the largest integer a store holds (PostgreSQL: " .. text .. ")"
      elseif c[2] == "connection" then
        text = "the connection to the PostgreSQL server was lost (" .. text .. "); what was being written " ..
               "was rolled back by the server"
      end
      return c[2], text
    end
  end
  return "sql", text
end

-- connect(t, opts) -> conn | nil, code, message (t: target.parse_url's table)
function M.connect(t, opts)
  local ok, dbd = pcall(require, "dbd.postgresql")
  if not ok then
    return nil, "driver", "LuaDBI's PostgreSQL driver is not installed (Debian: lua-dbi-postgresql; luarocks: " ..
                          "luadbi-postgresql)"
  end
  local conninfo = target.conninfo(t, { application_name = "genesys-usage",
                                        connect_timeout = tostring(math.max(1, math.floor(opts.connect_timeout))) })
  local pok, conn, err = pcall(dbd.New, conninfo, t.user, t.password, t.host, t.port)
  if not pok then return nil, "connect", tostring(conn) end
  if not conn then
    err = tostring(err):gsub("^Failed to connect to database: ", ""):gsub("%s+$", "")
    local code = M.classify(err)
    return nil, code == "sql" and "connect" or code, "cannot connect to " .. t.display .. ": " .. err
  end
  pcall(conn.autocommit, conn, true)
  return conn
end

function M.setup(db, opts)
  local sets = {
    "SET client_min_messages = warning",   -- libpq prints notices on stderr: keep them for real problems
    "SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, YMD'",
  }
  if opts.readonly then sets[#sets + 1] = "SET default_transaction_read_only = on" end
  for _, sql in ipairs(sets) do
    local ok, err = db:exec(sql)
    if not ok then return nil, err end
  end
  return true
end

return M
