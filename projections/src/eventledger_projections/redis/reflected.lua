-- ARGV: base. Answers the reflected position of the live version (0 when there is none).
local version = redis.call('GET', ARGV[1] .. ':live')
if not version then return 0 end
return tonumber(redis.call('HGET', ARGV[1] .. ':v' .. version .. ':meta', 'reflected_position') or '0')
