-- ARGV: base, now. Answers {live version, offsets as a flat field/value list}. Creates an empty live version
-- when there is none (first start, or a Redis that lost its data): its offsets are empty, so the runner reads
-- every partition from its beginning.
local base = ARGV[1]
local version = redis.call('GET', base .. ':live')
if not version then
  version = tostring(redis.call('INCR', base .. ':seq'))
  redis.call('HSET', base .. ':v' .. version .. ':meta', 'state', 'live', 'created_at', ARGV[2], 'floor', '0',
    'reflected_position', '0')
  redis.call('SET', base .. ':live', version)
end
return {version, redis.call('HGETALL', base .. ':v' .. version .. ':offsets')}
