-- usage.store.num: counts between Lua and SQL, exactly.
-- The LuaDBI drivers are not exact for 64-bit integers (SQLite reads INTEGER through a 32-bit path and
-- binds Lua numbers as doubles; PostgreSQL reads bigint through atoi or as a float), so the store never
-- lets a count take those paths: it binds counts as decimal text (or, for SQLite, as a double when the
-- value is below 2^53, where a double is exact and SQLite's INTEGER affinity stores it as an integer),
-- and it reads every integer as text (CAST(x AS TEXT)) and converts it here.
--   Lua 5.3/5.4: counts are Lua integers, exact up to 2^63-1; a sum beyond that is an "overflow" error.
--   LuaJIT: numbers are doubles, whose whole numbers are exact up to 2^53-1 (the last one whose successor
--   is exact too, as usage.base.rows counts it); a figure of 2^53 or more is an "inexact" error (never a rounded
--   figure), unless the caller asked for counts as text.

local M = {}

local HAS_INTEGERS = math.type ~= nil
M.HAS_INTEGERS = HAS_INTEGERS

local TWO53 = 2 ^ 53
local TWO63 = 2 ^ 63
M.TWO53 = TWO53
local MAX_TEXT = "9223372036854775807"  -- 2^63-1, the largest count a store holds
local TWO53_TEXT = "9007199254740992"

local type, floor, format, tonumber = type, math.floor, string.format, tonumber
local mtype = math.type

-- check(v) -> true | nil, why: a count is a whole number, 0 <= v <= 2^63-1
function M.check(v)
  if type(v) ~= "number" then return nil, "is a " .. type(v) .. ", not a number" end
  if v ~= v or v == math.huge or v == -math.huge then return nil, "is not finite" end
  if v < 0 then return nil, "is negative" end
  if HAS_INTEGERS and mtype(v) == "integer" then return true end
  if v ~= floor(v) then return nil, "is not a whole number" end
  if v >= TWO63 then return nil, "is above 2^63-1" end
  return true
end

-- text(v) -> the decimal text of a checked count
function M.text(v)
  if HAS_INTEGERS and mtype(v) == "integer" then return format("%d", v) end
  return format("%.0f", v) -- a whole double below 2^63: printed exactly
end

-- sqlite(v) -> what to bind for a checked count in SQLite: the number itself below 2^53 (bound as a
-- double, exact, stored as an INTEGER by the column's affinity), else its text (stored as an INTEGER too)
function M.sqlite(v)
  if v < TWO53 then return v end
  return M.text(v)
end

local function digits_of(s)
  if type(s) ~= "string" then return nil end
  return s:match("^%-?(%d+)$")
end

-- parse(s [, as_text]) -> number (or s itself when as_text) | nil, code, message
-- s: the decimal text of an integer that SQL produced (nil/NULL counts as 0)
function M.parse(s, as_text)
  if s == nil then return as_text and "0" or 0 end
  local digits = digits_of(s)
  if not digits then return nil, "bad_value", "the store returned '" .. tostring(s) .. "' where an integer was expected" end
  if #digits > 19 or (#digits == 19 and digits > MAX_TEXT) then
    return nil, "overflow", "a sum (" .. s .. ") is beyond 2^63-1, the largest integer a store holds"
  end
  if as_text then return s end
  if not HAS_INTEGERS and (#digits > 16 or (#digits == 16 and digits >= TWO53_TEXT)) then
    return nil, "inexact", "a figure (" .. s .. ") is 2^53 or more, beyond the integers LuaJIT numbers hold " ..
                "exactly; read it under Lua 5.4 or ask for counts as text (counts = \"string\")"
  end
  return tonumber(s)
end

-- day counts and keys that SQL returns (small integers), converted without ceremony
function M.small(s)
  return tonumber(s)
end

return M
