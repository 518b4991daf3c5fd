-- usage.store.text: what the store does with the strings a server sent. They are data, always bound as
-- parameters, never spliced into SQL; and both backends must hold the same text: PostgreSQL refuses NUL
-- and invalid UTF-8 in text columns, and LuaDBI cuts a string at its first NUL (PostgreSQL parameters)
-- or reads it back cut there (SQLite). So every string is made valid UTF-8 without NUL before it is
-- stored: each NUL byte and each byte that is not part of a well-formed UTF-8 sequence becomes U+FFFD
-- (the Unicode replacement character). Strings longer than MAX_BYTES are refused (PostgreSQL cannot
-- index them; no real client id, name, templateUri or method comes near).

local M = {}

local MAX_BYTES = 1024
M.REPLACEMENT = "\239\191\189" -- U+FFFD

local byte, sub, find, concat = string.byte, string.sub, string.find, table.concat

-- clean(s) -> s as valid UTF-8 without NUL (s itself when it already is)
function M.clean(s)
  if not find(s, "[%z\128-\255]") then return s end
  local out, n, i, len = {}, 0, 1, #s
  local start = 1 -- start of the pending run of good bytes
  local function flush(upto)
    if upto >= start then
      n = n + 1
      out[n] = sub(s, start, upto)
    end
  end
  while i <= len do
    local c = byte(s, i)
    local size = 0
    if c == 0 then
      size = 0
    elseif c < 0x80 then
      size = 1
    elseif c >= 0xC2 and c <= 0xDF then
      size = 2
    elseif c >= 0xE0 and c <= 0xEF then
      size = 3
    elseif c >= 0xF0 and c <= 0xF4 then
      size = 4
    end
    local ok = size > 0
    if size > 1 then
      if i + size - 1 > len then
        ok = false
      else
        local c2 = byte(s, i + 1)
        -- the second byte's range rules out overlong forms, surrogates and code points past U+10FFFF
        local lo, hi = 0x80, 0xBF
        if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F
        elseif c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
        if c2 < lo or c2 > hi then
          ok = false
        else
          for k = 2, size - 1 do
            local ck = byte(s, i + k)
            if ck < 0x80 or ck > 0xBF then ok = false break end
          end
        end
      end
    end
    if ok then
      i = i + size
    else
      flush(i - 1)
      n = n + 1
      out[n] = M.REPLACEMENT
      i = i + 1
      start = i
    end
  end
  flush(len)
  return concat(out)
end

-- value(v, what) -> cleaned string | "" (absent) | nil, message (too long)
function M.value(v, what)
  if v == nil then return "" end
  local s = M.clean(v)
  if #s > MAX_BYTES then
    return nil, string.format("%s of %d bytes (at most %d are stored): %q...", what, #s, MAX_BYTES, s:sub(1, 60))
  end
  return s
end

return M
