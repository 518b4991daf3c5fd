-- support.sources: the repository's source files as text, for the specs that check what modules export
-- (spec/exports_spec.lua, spec/cli_exports_spec.lua).
--   local sources = require "support.sources"
--   local paths = sources.list("find lua -name '*.lua' | sort")   -- the lines a shell command prints
--   local names = sources.exports(text)   -- { name = true } of M.name = ..., M.a, M.b = ..., function M.name

local M = {}

function M.list(cmd)
  local out = {}
  local p = io.popen(cmd)
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

function M.exports(src)
  local names = {}
  for name in ("\n" .. src):gmatch("\nM%.([%w_]+)%s*=") do names[name] = true end
  for name in ("\n" .. src):gmatch("\nfunction M%.([%w_]+)") do names[name] = true end
  for name in ("\n" .. src):gmatch("\nM%.([%w_]+),%s*M%.[%w_]+%s*=") do names[name] = true end
  return names
end

return M
