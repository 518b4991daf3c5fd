-- usage.cli.sink: where a command writes. Standard output, or a file written completely or not at all:
-- the text goes to a temporary file next to it (NAME.tmp-XXXX) that is renamed over NAME when the
-- command succeeds and removed when it fails or is interrupted. A device, a FIFO or a socket
-- (/dev/stdout, a named pipe) is written directly: renaming over it would replace it.
-- Every open sink is known here, so that a signal or a failure anywhere removes every temporary file.
--   local s, err = sink.open(path)      -- nil or "-": standard output
--   s.fh:write(...)                      -- raises a failure (exit 1) when the write fails (disk full)
--   s:commit() | s:abort()               -- commit -> true | nil, message
--   sink.abort_all()

local core = require "usage.core"

local M = {}

local Sink = {}
Sink.__index = Sink

local open_sinks = {}

-- a handle whose failed writes end the command (on_error(message) raises)
local function checked(fh, name, on_error)
  return {
    write = function(_, ...)
      local ok, why = fh:write(...)
      if not ok then on_error("cannot write " .. name .. ": " .. tostring(why)) end
      return true
    end,
    flush = function() return fh:flush() end,
  }
end

local function is_directory(path)
  local fh = io.open(path .. "/", "rb") -- opens for a directory, fails (ENOTDIR) for anything else
  if fh then fh:close() end
  return fh ~= nil
end

-- Is path a thing to write into directly (a device, a FIFO, a socket, a terminal)? Decided with io alone:
-- /dev and /proc hold devices and descriptors; elsewhere an existing path that cannot seek is no file.
local function direct(path)
  if path:match("^/dev/") or path:match("^/proc/") then return true end
  local fh = io.open(path, "r+b") -- (never blocks on a FIFO under Linux, unlike "rb" or "wb")
  if not fh then return false end
  local pos = fh:seek("cur")
  fh:close()
  return pos == nil
end

local function temp_name(path)
  local salt = string.format("%x%06x", math.floor(core.now() * 1000) % 0x100000000, math.random(0, 0xFFFFFF))
  return path .. ".tmp-" .. salt
end

-- open(path, on_error) -> sink | nil, message. on_error(message) is called (and must raise) when a
-- write fails later.
function M.open(path, on_error)
  on_error = on_error or error
  if not path or path == "-" then
    return setmetatable({ fh = checked(io.stdout, "standard output", on_error), raw = io.stdout,
                          name = "standard output" }, Sink)
  end
  if is_directory(path) then return nil, "cannot write " .. path .. ": it is a directory" end
  if direct(path) then
    local fh, why = io.open(path, "wb")
    if not fh then return nil, "cannot write " .. path .. ": " .. tostring(why) end
    return setmetatable({ fh = checked(fh, path, on_error), raw = fh, name = path, path = path, direct = true }, Sink)
  end
  local tmp = temp_name(path)
  local fh, why = io.open(tmp, "wb")
  if not fh then
    local dir = path:match("^(.*)/[^/]*$")
    if dir and dir ~= "" and not is_directory(dir) then why = "no directory " .. dir end
    return nil, "cannot write " .. path .. ": " .. tostring(why)
  end
  local s = setmetatable({ fh = checked(fh, path, on_error), raw = fh, name = path, path = path, tmp = tmp }, Sink)
  open_sinks[s] = true
  return s
end

-- commit() -> true | nil, message: the file is complete (renamed into place) or nothing is left
function Sink:commit()
  open_sinks[self] = nil
  if not self.tmp then
    local ok, why = self.raw:flush()
    if ok and self.direct then ok, why = self.raw:close() end
    if not ok then return nil, "cannot write " .. self.name .. ": " .. tostring(why) end
    return true
  end
  local tmp = self.tmp
  self.tmp = nil
  local ok, why = self.raw:close()
  if ok then ok, why = os.rename(tmp, self.path) end
  if not ok then
    os.remove(tmp)
    return nil, "cannot write " .. self.path .. ": " .. tostring(why)
  end
  return true
end

function Sink:abort()
  open_sinks[self] = nil
  if self.direct then pcall(self.raw.close, self.raw) end
  if self.tmp then
    pcall(self.raw.close, self.raw)
    os.remove(self.tmp)
    self.tmp = nil
  end
end

-- write_file(path, text, on_error) -> true | nil, message: a whole file at once, atomically
function M.write_file(path, text, on_error)
  local s, err = M.open(path, on_error)
  if not s then return nil, err end
  local ok, why = pcall(s.fh.write, s.fh, text)
  if not ok then
    s:abort()
    error(why, 0)
  end
  return s:commit()
end

-- abort_all(): remove the temporary file of every sink not yet committed (a failure, a signal)
function M.abort_all()
  for s in pairs(open_sinks) do s:abort() end
end

return M
