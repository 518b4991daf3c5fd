-- usage.store.sqlite: the SQLite side of a store (LuaDBI's dbd.sqlite3): opening the file, the
-- connection's settings, and what SQLite's messages mean.

local core = require "usage.core"

local M = { name = "sqlite", BEGIN = "BEGIN IMMEDIATE" }

-- classify(message) -> code, text: LuaDBI passes SQLite's messages (sqlite3_errmsg) in its own words
local CODES = {
  { "file is not a database", "not_a_store" },
  { "database is locked", "busy" }, { "database table is locked", "busy" }, { "database schema is locked", "busy" },
  { "database or disk is full", "full" },
  { "attempt to write a readonly database", "readonly" },
  { "unable to open database file", "cantopen" },
  { "integer overflow", "overflow" },
  { "disk I/O error", "io" },
  { "database disk image is malformed", "corrupt" },
  { "Statement unavailable: database closed", "closed" },
}

function M.classify(message, db)
  local text = message:gsub("^Execute failed ", ""):gsub("^Fetch failed ", ""):gsub("^Error preparing statement handle: ", "")
  for _, c in ipairs(CODES) do
    if message:find(c[1], 1, true) then
      if c[2] == "overflow" then
        text = "a sum is beyond 2^63-1, the largest integer a store holds (SQLite: " .. text .. ")"
      elseif c[2] == "not_a_store" then
        text = "not a SQLite database (SQLite: " .. text .. "): not a genesys-usage store, left as it is"
      elseif c[2] == "busy" then
        text = string.format("another program holds a lock on the store's file (SQLite: %s; waited %g s, " ..
                             "busy_timeout)", text, db and db.busy_timeout or 0)
      elseif c[2] == "full" then
        text = "the store's disk (or its size limit) is full: " .. text
      elseif c[2] == "readonly" then
        local fh = db and db.where and io.open(db.where, "r+b") -- the file itself writable?
        if fh then
          fh:close()
          text = "the store's directory is read-only (SQLite writes its journal next to the file): " .. text
        else
          text = "the store's file is read-only: " .. text
        end
      elseif c[2] == "cantopen" then
        text = "SQLite cannot open a file it needs (the store's file, or its journal next to it: is the " ..
               "directory writable?): " .. text
      end
      return c[2], text
    end
  end
  return "sql", text
end

-- kind(path) -> "file", "missing", another type of file ("directory", "fifo", "char", "socket", ...), or nil
-- when it cannot be told (no right to look): asked of the file system, never by opening the path (opening a
-- FIFO waits for a writer, for ever)
local function kind(path)
  local info, _, reason = core.file_info(path)
  if info then return info.type end
  if reason == "missing" then return "missing" end
  return nil
end

local function exists(path)
  local k = kind(path)
  if k then return k ~= "missing" end
  local fh = io.open(path, "rb")
  if fh then fh:close() return true end
  return false
end

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- a URI for read-only opens ("file:...?mode=ro"): the path percent-encoded where a URI needs it
local function ro_uri(path)
  return "file:" .. path:gsub("[%%?#]", function(c) return string.format("%%%02X", c:byte()) end) .. "?mode=ro"
end

-- connect(path, opts, is_default) -> conn | nil, code, message
function M.connect(path, opts, is_default)
  local ok, dbd = pcall(require, "dbd.sqlite3")
  if not ok then
    return nil, "driver", "LuaDBI's SQLite driver is not installed (Debian: lua-dbi-sqlite3; luarocks: luadbi-sqlite3)"
  end
  if path:sub(1, 5) == "file:" then path = "./" .. path end -- a path, never a URI
  local k = path ~= ":memory:" and kind(path)
  if k and k ~= "file" and k ~= "missing" and k ~= "directory" then -- (a FIFO, a device, a socket: reading
    -- one would wait for ever or worse; a directory is SQLite's to refuse)
    return nil, "bad_target", path .. " is a " .. (k == "char" and "character device" or k) ..
                              ", not a file: a store is a SQLite file"
  end
  if path ~= ":memory:" and not exists(path) then
    if opts.readonly or opts.create == false then
      return nil, "no_store", "there is no store at " .. path
    end
    if is_default then -- the default directory is ours to create (private: usage data is the org's business)
      local dir = path:match("^(.*)/[^/]*$")
      if dir and dir ~= "" then os.execute("mkdir -p -m 700 " .. sh_quote(dir) .. " 2>/dev/null") end
    end
  end
  local name = (opts.readonly and path ~= ":memory:") and ro_uri(path) or path
  local pok, conn, err = pcall(dbd.New, name)
  if not pok then return nil, "cantopen", tostring(conn) end
  if not conn then
    err = tostring(err):gsub("^Failed to connect to database: ", "")
    return nil, (M.classify(err)), "cannot open " .. path .. ": " .. err
  end
  pcall(conn.autocommit, conn, true) -- the store opens its own transactions
  return conn
end

-- setup(db, opts) -> true | nil, err: the connection's settings
function M.setup(db, opts)
  local ok, err = db:exec(string.format("PRAGMA busy_timeout = %d", math.floor(opts.busy_timeout * 1000)))
  if not ok then return nil, err end
  for _, p in ipairs(opts.pragma_list or {}) do
    ok, err = db:exec("PRAGMA " .. p[1] .. " = " .. p[2])
    if not ok then return nil, err end
  end
  -- is it a database at all? (SQLite opens anything and complains at the first read)
  ok, err = db:exec("SELECT count(*) FROM sqlite_master")
  if not ok then return nil, err end
  return true
end

return M
