-- usage.cli.parser: the command line parsed by argparse (Debian's lua-argparse, luarocks' argparse). Each
-- command module adds its own argparse command, its options and their converters (add_to), and reads
-- argparse's result as it is. argparse checks the words: unknown options and commands (with its "did you
-- mean" tips), missing values, flags used twice, flags that exclude each other; each flag's converter
-- checks its value. Errors come back as one line.
--   local p = parser.new(commands)      -- commands: the modules of usage.cli.commands
--   local ok, args = p:parse(argv)      -> true, argparse's result (args.command: the command's name)
--                                       |  false, message, command name (for the --help pointer)
--   p:help([name])                      -> the help text of a command (or of the whole tool)
--   p:command(name)                     -> the command module of that name, or nil

local help = require "usage.cli.help"

local M = {}

local Parser = {}
Parser.__index = Parser

-- new(commands) -> parser
function M.new(commands)
  local self = setmetatable({ list = commands, by_name = {}, commands = {} }, Parser)
  self.top = help.program()
  for _, cmd in ipairs(commands) do
    self.by_name[cmd.name] = cmd
    self.commands[cmd.name] = cmd.add_to(self.top)
  end
  return self
end

function Parser:command(name)
  return self.by_name[name]
end

function Parser:help(name)
  local p = name and self.commands[name] or self.top
  return p:get_help() .. "\n"
end

-- the other commands that have the option `name` (argparse itself is asked: an option it does not know
-- is "unknown" for that command, any other answer means it knows it)
local function owners(self, name, command)
  local out = {}
  for _, cmd in ipairs(self.list) do
    if cmd.name ~= command then
      local ok, message = self.top:pparse { cmd.name, name }
      if ok or not tostring(message):match("^unknown option") then out[#out + 1] = cmd.name end
    end
  end
  return out
end

-- one line out of argparse's message: "unknown option '--x'\nDid you mean '--y'?" ->
-- "unknown option --x; did you mean --y?"
local function one_line(self, message, command)
  message = tostring(message)
  local negative = message:match("^unknown option '(%-%d[^']*)'")
  if negative then return "unexpected " .. negative .. " (a value may not start with -)" end
  message = message:gsub("'([^'\n]*)'", "%1")
  local names = {}
  for i, cmd in ipairs(self.list) do names[i] = cmd.name end
  local tip = message:find("Did you mean", 1, true)
  local unknown = message:match("^unknown option (%S+)")
  if unknown and command and not tip then
    local others = owners(self, unknown, command)
    if #others > 0 then message = message .. " (an option of " .. table.concat(others, ", ") .. ")" end
  end
  if message:match("^unknown command") and not tip then
    message = message .. " (commands: " .. table.concat(names, ", ") .. ")"
  end
  if message == "a command is required" then message = "expected a command first: " .. table.concat(names, ", ") end
  return (message:gsub("\nDid you mean", "; did you mean"):gsub("%c", " "))
end

-- parse(argv) -> true, args | false, message, command name
function Parser:parse(argv)
  local command
  for _, a in ipairs(argv) do
    if self.by_name[a] then command = a break end
    if a == "--" then break end
  end
  local ok, result = self.top:pparse(argv)
  if not ok then return false, one_line(self, result, command), command end
  return true, result
end

return M
