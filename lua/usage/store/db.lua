-- usage.store.db: a LuaDBI connection with the store's manners. Every driver call is protected (LuaDBI
-- raises for a closed or broken connection, and SQLite raises from fetch when a step fails), every
-- failure becomes an error value (usage.base.errors) with a code the caller can act on, every message passes
-- the store's redactor (a PostgreSQL password never leaves), statements are prepared once per SQL text
-- (LuaDBI's PostgreSQL driver never frees a prepared statement on the server), and transactions are
-- the store's own (LuaDBI's autocommit is switched on, so it never opens one by itself).

local errors = require "usage.base.errors"

local M = {}

local DB = {}
DB.__index = DB

local unpack = table.unpack or unpack -- luacheck: ignore (LuaJIT)

-- wrap(conn, dialect, redactor, where) -> db
function M.wrap(conn, dialect, redactor, where)
  return setmetatable({ conn = conn, dialect = dialect, redactor = redactor, where = where, stmts = {},
                        in_tx = false }, DB)
end

-- fail(code, message, fields) -> nil, err: an error value whose every string is redacted
function DB:fail(code, message, fields)
  local e = fields or {}
  e.code = code
  e.message = self.redactor:text(message)
  e.store = self.where
  for k, v in pairs(e) do
    if type(v) == "string" then e[k] = self.redactor:text(v) end
  end
  return nil, errors.new(e)
end

-- driver(message, context) -> nil, err: a driver's message, classified by the dialect
function DB:driver(message, context)
  message = tostring(message or "unknown error")
  local code, text = self.dialect.classify(message, self)
  return self:fail(code, (context and (context .. ": ") or "") .. text, { driver_message = message })
end

function DB:prepare(sql)
  local st = self.stmts[sql]
  if st then return st end
  if not self.conn then return self:fail("closed", "the store is closed") end
  if self.dialect.MAX_PLACEHOLDERS then -- LuaDBI renumbers '?' into $1..$999 and garbles $1000 and up
    local _, n = sql:gsub("%?", "")
    if n > self.dialect.MAX_PLACEHOLDERS then
      error("usage.store: a statement with " .. n .. " parameters (LuaDBI's PostgreSQL driver numbers at most " ..
            self.dialect.MAX_PLACEHOLDERS .. ")", 2)
    end
  end
  local ok, s, err = pcall(self.conn.prepare, self.conn, sql)
  if not ok then return self:driver(s) end
  if not s then return self:driver(err) end
  self.stmts[sql] = s
  return s
end

-- drain(st): steps a statement to its end. A SQLite statement that was not stepped to its end keeps its
-- read transaction (and its lock on the file) open: no statement may be left half read.
local function drain(st)
  for _ = 1, 1e9 do
    local ok, row = pcall(st.fetch, st, false)
    if not ok or not row then return end
  end
end

-- run(sql, ...) -> statement | nil, err: executed, its rows (if any) not read
function DB:run(sql, ...)
  local st, err = self:prepare(sql)
  if not st then return nil, err end
  local ok, done, why = pcall(st.execute, st, ...)
  if not ok then return self:driver(done) end
  if not done then return self:driver(why) end
  return st
end

-- exec(sql, ...) -> statement | nil, err: executed to its end (rows it returns are skipped)
function DB:exec(sql, ...)
  local st, err = self:run(sql, ...)
  if st then drain(st) end
  return st, err
end

-- execn(sql, values, n) -> statement | nil, err: exec with values[1..n] as parameters
function DB:execn(sql, values, n)
  return self:exec(sql, unpack(values, 1, n))
end

-- each(sql, params, fn) -> true | nil, err: fn(row) for every row (an array of the columns; NULL = nil);
-- fn may return nil, err to stop
function DB:each(sql, params, fn)
  local st, err = self:run(sql, unpack(params or {}, 1, params and (params.n or #params) or 0))
  if not st then return nil, err end
  while true do
    local ok, row = pcall(st.fetch, st, false)
    if not ok then return self:driver(row) end
    if not row then return true end
    local ok2, ferr = fn(row)
    if ok2 == nil and ferr then
      drain(st)
      return nil, ferr
    end
  end
end

-- rows(sql, ...) -> array of rows | nil, err
function DB:rows(sql, ...)
  local out = {}
  local params = { n = select("#", ...), ... }
  local ok, err = self:each(sql, params, function(row) out[#out + 1] = row end)
  if not ok then return nil, err end
  return out
end

-- one(sql, ...) -> the first row | false (none) | nil, err
function DB:one(sql, ...)
  local rows, err = self:rows(sql, ...)
  if not rows then return nil, err end
  return rows[1] or false
end

function DB:begin()
  local ok, err = self:exec(self.dialect.BEGIN)
  if not ok then return nil, err end
  self.in_tx = true
  return true
end

function DB:commit()
  local ok, err = self:exec("COMMIT")
  if not ok then
    self:rollback()
    return nil, err
  end
  self.in_tx = false
  return true
end

-- rollback(): best effort (a lost connection has nothing to roll back)
function DB:rollback()
  if self.conn then pcall(function()
    local st = self:prepare("ROLLBACK")
    if st then st:execute() end
  end) end
  self.in_tx = false
  if self.on_rollback then self.on_rollback() end
end

-- transaction(fn) -> what fn returns | nil, err: fn() runs inside BEGIN .. COMMIT; nil, err from fn
-- (or an error it raises) rolls back
function DB:transaction(fn)
  local ok, err = self:begin()
  if not ok then return nil, err end
  local pok, a, b = pcall(fn)
  if not pok then
    self:rollback()
    error(a, 0)
  end
  if a == nil then
    self:rollback()
    return nil, b
  end
  local cok, cerr = self:commit()
  if not cok then return nil, cerr end
  return a, b
end

function DB:close()
  local conn = self.conn
  if not conn then return false end
  self.conn = nil
  for _, st in pairs(self.stmts) do pcall(st.close, st) end
  self.stmts = {}
  pcall(conn.close, conn)
  return true
end

return M
