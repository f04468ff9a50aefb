-- ARGV: base, live version, token, timeout ms. Stops live writes to the version (they answer ELBUSY and are retried)
-- until the switch or the deadline, and answers {offsets flat, last positions flat, reflected position}: final
-- for this version from now on.
local base, version = ARGV[1], ARGV[2]
if redis.call('GET', base .. ':live') ~= version then
  return redis.error_reply('ELSWITCH version ' .. version .. ' is no longer live')
end
local p = base .. ':v' .. version .. ':'
local now = redis.call('TIME')
local deadline = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[4])
redis.call('HSET', p .. 'meta', 'handover', ARGV[3] .. '|' .. string.format('%d', deadline))
return {redis.call('HGETALL', p .. 'offsets'), redis.call('HGETALL', p .. 'last'),
  redis.call('HGET', p .. 'meta', 'reflected_position') or '0'}
