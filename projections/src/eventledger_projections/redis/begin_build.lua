-- ARGV: base, now. Allocates a new version and marks it as being built. Answers its number.
local version = redis.call('INCR', ARGV[1] .. ':seq')
redis.call('HSET', ARGV[1] .. ':v' .. version .. ':meta', 'state', 'building', 'created_at', ARGV[2], 'floor', '0',
  'reflected_position', '0')
return version
