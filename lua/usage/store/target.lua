-- usage.store.target: what store.open was given. A path (or nothing: the default file) is a SQLite store;
-- "postgresql://user:password@host:port/db?host=/socket/dir&sslmode=..." (or "postgres://") a PostgreSQL
-- one. The password is kept out of everything the store shows: display() never has it, and the redactor
-- made here replaces it (as given and percent-encoded) in every message that leaves the store.

local redact = require "usage.base.redact"

local M = {}

M.FILE_NAME = "usage.sqlite3"

local function getenv(name)
  local v = os.getenv(name)
  if v == "" then return nil end
  return v
end

-- default_dir() -> $XDG_DATA_HOME/genesys-usage, else ~/.local/share/genesys-usage | nil, message
local function default_dir()
  local xdg = getenv("XDG_DATA_HOME")
  if xdg and xdg:sub(1, 1) == "/" then return xdg:gsub("/+$", "") .. "/genesys-usage" end -- relative: ignored (XDG)
  local home = getenv("HOME")
  if not home then return nil, "neither XDG_DATA_HOME nor HOME is set: name the store's file" end
  return home:gsub("/+$", "") .. "/.local/share/genesys-usage"
end

-- default_path() -> the default store file | nil, message
function M.default_path()
  local dir, err = default_dir()
  if not dir then return nil, err end
  return dir .. "/" .. M.FILE_NAME
end

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- the libpq parameters a URL's query may carry (others are refused: a typo must not pass unnoticed)
local PG_PARAMS = {
  host = true, hostaddr = true, port = true, dbname = true, user = true, password = true, sslmode = true,
  sslrootcert = true, sslcert = true, sslkey = true, sslcrl = true, connect_timeout = true,
  application_name = true, target_session_attrs = true, options = true, keepalives = true,
  keepalives_idle = true, keepalives_interval = true, keepalives_count = true, gssencmode = true,
  channel_binding = true, passfile = true, service = true,
}

-- parse_url(url) -> t | nil, message (never naming the password)
-- t = { user, password, host, port, dbname, params = { name = value }, display, redactor }
function M.parse_url(url)
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme or (scheme ~= "postgresql" and scheme ~= "postgres") then
    return nil, "expected postgresql://[user[:password]@][host][:port][/dbname][?param=value&...]"
  end
  local t = { params = {}, redactor = redact.new() }
  local query
  rest, query = rest:match("^([^?]*)%??(.*)$")
  local authority, path = rest:match("^([^/]*)(.*)$")
  local userinfo, hostport = authority:match("^(.*)@([^@]*)$")
  if not userinfo then hostport = authority end
  if userinfo then
    local u, p = userinfo:match("^([^:]*):(.*)$")
    if u then
      t.redactor:add(p)                     -- as written in the URL (percent-encoded)
      t.password = unescape(p)
      t.redactor:add(t.password)
      userinfo = u
    end
    if userinfo ~= "" then t.user = unescape(userinfo) end
  end
  if hostport ~= "" then
    local h, port
    if hostport:sub(1, 1) == "[" then
      h, port = hostport:match("^%[([^%]]+)%]:?(%d*)$")
    else
      h, port = hostport:match("^([^:]*):?(%d*)$")
    end
    if not h then return nil, "the host:port part of the URL cannot be read" end
    if h ~= "" then t.host = unescape(h) end
    if port and port ~= "" then t.port = tonumber(port) end
  end
  if path ~= "" and path ~= "/" then t.dbname = unescape(path:sub(2)) end
  for pair in query:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]+)=(.*)$")
    if not k then return nil, "the URL's query has a parameter without a value" end
    k, v = unescape(k), unescape(v:gsub("%+", " "))
    if not PG_PARAMS[k] then return nil, "the URL's query names an unknown parameter '" .. k .. "'" end
    if k == "password" then
      t.redactor:add(pair:match("=(.*)$"))
      t.password = v
      t.redactor:add(v)
    elseif k == "host" then t.host = v
    elseif k == "port" then t.port = tonumber(v)
    elseif k == "dbname" then t.dbname = v
    elseif k == "user" then t.user = v
    else t.params[k] = v end
  end
  if t.port and (t.port < 1 or t.port > 65535 or t.port ~= math.floor(t.port)) then
    return nil, "the URL's port is not a port number"
  end
  -- what the store shows of itself: no password, ever
  local shown = scheme .. "://" .. (t.user and (t.user .. "@") or "")
  local host = t.host or ""
  if host:sub(1, 1) == "/" then
    shown = shown .. (t.port and (":" .. t.port) or "") .. "/" .. (t.dbname or "") .. "?host=" .. host
  else
    shown = shown .. host .. (t.port and (":" .. t.port) or "") .. "/" .. (t.dbname or "")
  end
  t.display = t.redactor:text(shown)
  return t
end

-- conninfo(t) -> the libpq connection string for LuaDBI's dbname argument (no password in it: that goes
-- as its own argument)
function M.conninfo(t, extra)
  local parts = {}
  local function add(k, v)
    if v == nil then return end
    v = tostring(v):gsub("\\", "\\\\"):gsub("'", "\\'")
    parts[#parts + 1] = k .. "='" .. v .. "'"
  end
  add("dbname", t.dbname or t.user or "postgres")
  local names = {}
  for k in pairs(t.params) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do add(k, t.params[k]) end
  for k, v in pairs(extra or {}) do
    if t.params[k] == nil then add(k, v) end
  end
  return table.concat(parts, " ")
end

-- classify(target) -> "sqlite", path | "postgresql", parsed | nil, message
function M.classify(target)
  if target == nil then
    local path, err = M.default_path()
    if not path then return nil, err end
    return "sqlite", path, true
  end
  if target:match("^postgres") and target:find("://", 1, true) then
    local t, err = M.parse_url(target)
    if not t then return nil, "not a usable PostgreSQL URL: " .. err end
    return "postgresql", t
  end
  if target:match("^%a[%w+.-]*://") then
    return nil, "a store is a SQLite file (a path) or a postgresql:// URL"
  end
  if target == "" then return nil, "the store's path is empty" end
  return "sqlite", target
end

return M
