-- ARGV: base, then (member, revision) pairs: forget the members still dirty at the revision that was published.
local dirty = ARGV[1] .. ':stream:dirty'
local removed = 0
for j = 2, #ARGV, 2 do
  local score = redis.call('ZSCORE', dirty, ARGV[j])
  if score and tonumber(score) == tonumber(ARGV[j + 1]) then
    removed = removed + redis.call('ZREM', dirty, ARGV[j])
  end
end
return removed
