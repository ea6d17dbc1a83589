"""The Lua scripts of lua/, loaded from their files and run by name with EVALSHA.

redis-py's Script object runs EVALSHA and loads the script again when Redis
answers NOSCRIPT (after a restart or a SCRIPT FLUSH), as ioredis' defineCommand
does on the Node side. The key count comes from the script's own header.
"""
import re

from .settings import LUA_DIR

_HEADER = re.compile(r'^--\[\[(.*?)\]\]', re.S)
_KEY_LINE = re.compile(r'^\s*KEYS\[(\d+)\]', re.M)


class LuaScripts:
    def __init__(self, client):
        self._client = client
        self._scripts = {}
        for path in sorted(LUA_DIR.glob('*.lua')):
            source = path.read_text()
            header = _HEADER.match(source)
            if not header:
                raise RuntimeError(f'lua/{path.name}: no header comment naming its KEYS and ARGV')
            keys = len(set(_KEY_LINE.findall(header.group(1))))
            self._scripts[path.stem] = (keys, client.register_script(source))

    def run(self, name, keys, args):
        if name not in self._scripts:
            raise KeyError(f'no script lua/{name}.lua')
        count, script = self._scripts[name]
        if len(keys) != count:
            raise ValueError(f'lua/{name}.lua takes {count} keys, got {len(keys)}')
        return script(keys=keys, args=args)
