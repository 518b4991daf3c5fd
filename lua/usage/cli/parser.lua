-- usage.cli.parser: the command line parsed by argparse (Debian's lua-argparse, luarocks' argparse),
-- built from the commands and their model-derived flags (usage.cli.flags). argparse checks the words:
-- unknown options and commands (with its "did you mean" tips), missing values, flags used twice, flags
-- that exclude each other; each flag's converter checks its value. Errors come back as one line.
--   local p = parser.new(commands)
--   local ok, parsed = p:parse(argv)   -> true, { command = cmd, values = { [flag name] = value },
--                                          args = { positional } } | false, message, command name
--   p:help(name)                        -> the help text of a command (or of the whole tool)

local argparse = require "argparse"
local flags = require "usage.cli.flags"
local help = require "usage.cli.help"
local days = require "usage.cli.days"

local M = {}

local PROG = "genesys-usage"
local WIDTH, MARGIN = help.WIDTH, 32
local unpack = table.unpack or unpack -- luacheck: ignore (Lua 5.1 / LuaJIT global)

local Parser = {}
Parser.__index = Parser

-- add one flag to an argparse (sub)parser; its value lands in values[flag.name]
local function add_flag(p, flag, values)
  local names = (flag.short and ("-" .. flag.short .. " ") or "") .. "--" .. flag.name
  for _, a in ipairs(flag.aliases or {}) do names = names .. " --" .. a end
  local o
  if flag.arg then
    o = p:option(names, flag.doc):argname(flag.arg)
    if flag.convert then o:convert(flag.convert) end
  else
    o = p:flag(names, flag.doc)
  end
  if flag.repeatable then o:count("*") else o:overwrite(false) end -- (a setting given twice is an error)
  o:action(function(_, _, value)
    if value == nil then value = true end
    if not flag.repeatable then
      values[flag.name] = value
      return
    end
    local list = values[flag.name] or {}
    if type(value) == "table" then
      for _, v in ipairs(value) do list[#list + 1] = v end
    else
      list[#list + 1] = value
    end
    values[flag.name] = list
  end)
  return o
end

local function add_command(top, cmd, values)
  local fl = flags.for_command(cmd)
  local c = top:command(cmd.name):add_help(false):help_max_width(WIDTH):help_description_margin(MARGIN)
  c:summary(cmd.summary or cmd.about):description(help.description(cmd, fl)):epilog(help.epilog(cmd))
  local positional = ""
  if fl.flow and #fl.flow.params > 0 then
    local name = flags.kebab(fl.flow.params[1])
    positional = " [" .. name:upper() .. "]"
    c:argument(name, "the " .. fl.flow.params[1] .. " (or --" .. name .. ")"):args("?"):argname(name:upper())
      :action(function(_, _, value) values["arg:" .. name] = value end)
  end
  c:usage("usage: " .. PROG .. " " .. cmd.name .. positional .. " [options]")
  local by_group, opts = {}, {}
  for _, flag in ipairs(fl.list) do
    local o = add_flag(c, flag, values)
    opts[flag.name] = o
    by_group[flag.group] = by_group[flag.group] or {}
    table.insert(by_group[flag.group], o)
  end
  for _, g in ipairs(help.GROUPS) do
    if by_group[g[1]] then c:group(string.format(g[2], tostring(fl.flow and fl.flow.body)), unpack(by_group[g[1]])) end
  end
  local exclusive = {}
  for _, name in ipairs(days.EXCLUSIVE) do exclusive[#exclusive + 1] = opts[name] end
  if #exclusive > 1 then c:mutex(unpack(exclusive)) end
  return c
end

-- new(commands) -> parser
function M.new(commands)
  local self = setmetatable({ values = {}, commands = {}, by_name = {} }, Parser)
  local top = argparse(PROG):add_help(false):help_max_width(WIDTH):help_description_margin(MARGIN)
  top:command_target("command")
  top:usage("usage: " .. PROG .. " <command> [options]\n       " .. PROG .. " <command> --help\n       " .. PROG ..
            " --version")
  top:description(help.SUMMARY)
  top:epilog(help.TOP_EPILOG)
  top:flag("--version", "print the version"):action(function() self.values.version = true end)
  top:flag("-h --help", "show this help"):action(function() self.values.help = true end)
  for _, cmd in ipairs(commands) do
    self.by_name[cmd.name] = cmd
    self.commands[cmd.name] = add_command(top, cmd, self.values)
  end
  self.top = top
  self.list = commands
  return self
end

function Parser:help(name)
  local p = name and self.commands[name] or self.top
  return p:get_help() .. "\n"
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
    local others = {}
    for _, cmd in ipairs(self.list) do
      if cmd.name ~= command and flags.for_command(cmd).by_name[unknown:gsub("^%-%-", "")] then
        others[#others + 1] = cmd.name
      end
    end
    if #others > 0 then message = message .. " (an option of " .. table.concat(others, ", ") .. ")" end
  end
  if message:match("^unknown command") and not tip then
    message = message .. " (commands: " .. table.concat(names, ", ") .. ")"
  end
  if message == "a command is required" then message = "expected a command first: " .. table.concat(names, ", ") end
  return (message:gsub("\nDid you mean", "; did you mean"):gsub("%c", " "))
end

-- parse(argv) -> true, parsed | false, message, command name (for the --help pointer)
function Parser:parse(argv)
  local command
  for _, a in ipairs(argv) do
    if self.by_name[a] then command = a break end
    if a == "--" then break end
  end
  local ok, result = self.top:pparse(argv)
  if not ok then return false, one_line(self, result, command), command end
  local cmd = self.by_name[result.command]
  local args = {}
  for k, v in pairs(self.values) do
    local name = type(k) == "string" and k:match("^arg:(.*)$")
    if name then args[name] = v end
  end
  return true, { command = cmd, values = self.values, args = args }
end

return M
