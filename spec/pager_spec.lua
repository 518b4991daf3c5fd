-- usage.flows.pager over a scripted produce function: pages, rows, all, the row cap (truncated), errors
-- (raised by the iterators, returned by all), progress, the redactor on what it hands out, and
-- transport.lua's session pool (the real C core: making sessions connects nowhere).

local pager_mod = require "usage.flows.pager"
local redact_mod = require "usage.base.redact"
local transport = require "usage.runtime.transport"

-- a pager producing `pages` (arrays of rows; a string is an error) one by one
local function pager_of(pages, opts)
  local i = 0
  local calls = 0
  local p = pager_mod.new(function()
    calls = calls + 1
    i = i + 1
    local page = pages[i]
    if type(page) == "string" then return nil, { code = "bad_response", message = page } end
    return page, i < #pages
  end, opts)
  return p, function() return calls end
end

local function rows(n, from)
  local out = {}
  for k = 1, n do out[k] = { n = (from or 0) + k } end
  return out
end

describe("usage.flows.pager", function()
  it("pages() skips empty pages; rows() hands out every row in order; state, counts, done", function()
    local p = pager_of { rows(2), {}, rows(3, 2) }
    assert.equal("new", p.state)
    local got = {}
    for page in p:pages() do got[#got + 1] = #page end
    assert.same({ 2, 3 }, got)
    assert.equal("done", p.state)
    assert.equal(3, p.page_count)
    assert.equal(5, p.row_count)
    local q = pager_of { rows(2), {}, rows(3, 2) }
    local ns = {}
    for row in q:rows() do ns[#ns + 1] = row.n end
    assert.same({ 1, 2, 3, 4, 5 }, ns)
    assert.equal(false, q:next_page()) -- and stays done
  end)

  it("all() gathers every row, or returns nil, err and never raises", function()
    local p = pager_of { rows(2), rows(1, 2) }
    local all = assert(p:all())
    assert.equal(3, #all)
    local q = pager_of { rows(2), "the server lied" }
    local none, err = q:all()
    assert.is_nil(none)
    assert.equal("bad_response", err.code)
    assert.equal("failed", q.state)
    assert.equal(err, q.err)
  end)

  it("the iterators raise the err table itself; a failed pager keeps failing without asking again", function()
    local p, calls = pager_of { rows(1), "broken" }
    local ok, err = pcall(function() for _ in p:rows() do end end)
    assert.is_false(ok)
    assert.equal("broken", err.message)
    local n = calls()
    local again = select(2, pcall(function() for _ in p:pages() do end end))
    assert.equal(err, again)
    assert.equal(n, calls())
  end)

  it("cap: stops at that many rows and says truncated", function()
    local p = pager_of({ rows(4), rows(4, 4), rows(4, 8) }, { cap = 6 })
    local all = assert(p:all())
    assert.equal(6, #all)
    assert.equal(6, all[6].n)
    assert.is_true(p.truncated)
    assert.equal("done", p.state)
    local exact = pager_of({ rows(3), rows(3, 3) }, { cap = 6 })
    assert.equal(6, #assert(exact:all()))
    assert.is_true(exact.truncated) -- (the cap reached: the API would stop there too)
    local under = pager_of({ rows(3) }, { cap = 6 })
    under:all()
    assert.is_false(under.truncated)
  end)

  it("tells on_progress each page, with the redactor's copy of a server's status", function()
    local events = {}
    local redact = redact_mod.new()
    redact:add("secret-status-x")
    local p = pager_of({ rows(1), rows(2, 1) }, { on_progress = function(e) events[#events + 1] = e end, redact = redact,
                                                 page_size = 1000 })
    p:progress("Running secret-status-x")
    p:all()
    assert.equal("Running [REDACTED]", events[1].state)
    assert.equal(3, #events)
    assert.equal(3, events[3].rows)
    assert.equal(2, events[3].pages)
    assert.equal("done", events[3].state)
    assert.equal(1000, events[3].page_size)
  end)

  it("hands out redacted copies of rows and errors when the redactor marked them", function()
    local redact = redact_mod.new()
    redact:add("row-secret-value")
    local page = { { name = "row-secret-value" } }
    redact:mark(page, '[{"name":"row-secret-value"}]')
    local p = pager_mod.new(function() return page, false end, { redact = redact })
    local got = assert(p:all())
    assert.equal("[REDACTED]", got[1].name)
    assert.equal("row-secret-value", page[1].name)
    local q = pager_mod.new(function() return nil, { message = "echo row-secret-value" } end, { redact = redact })
    local _, err = q:all()
    assert.equal("echo [REDACTED]", err.message)
  end)

  it("tostring names its state and counts", function()
    local p = pager_of { rows(2) }
    p:all()
    assert.equal("usage.pager (done, 1 pages, 2 rows)", tostring(p))
  end)
end)

describe("usage.runtime.transport", function()
  it("keeps released sessions for the next transfer, at most 16, and closes the rest and all on close", function()
    local t = transport.new({}, "usage")
    local taken = {}
    for i = 1, 20 do taken[i] = assert(t:acquire()) end
    for i = 1, 20 do t:release(taken[i]) end
    assert.equal(16, #t.idle)
    assert.is_false(taken[17]:usable()) -- (closed: released beyond the pool)
    local again = t:acquire()
    assert.equal(taken[16], again) -- the last one released comes back first
    assert.equal(15, #t.idle)
    t:release(again)
    t:close()
    assert.equal(0, #t.idle)
    assert.is_false(again:usable())
  end)

  it("drops a session that cannot take another transfer instead of pooling it", function()
    local t = transport.new({}, "usage")
    local s = assert(t:acquire())
    s:close()
    t:release(s)
    assert.equal(0, #t.idle)
  end)
end)
