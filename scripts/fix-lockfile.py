#!/usr/bin/env python3
"""Re-add unrs-resolver's foreign-platform bindings to package-lock.json.

The registry this project is developed against does not serve those bindings (a Jest dependency), so
`npm install` leaves them out of the lock and `npm ci` then refuses it. Run this after any dependency change,
then check that `npm ci` passes in a clean copy. Platform metadata comes from scripts/unrs-bindings.json.
"""
import json, os, sys

here = os.path.dirname(os.path.abspath(__file__))
path = sys.argv[1] if len(sys.argv) > 1 else 'package-lock.json'
meta = json.load(open(os.path.join(here, 'unrs-bindings.json')))
lock = json.load(open(path))
pkgs = lock['packages']
unrs = pkgs.get('node_modules/unrs-resolver')
if not unrs:
    sys.exit('unrs-resolver is not in the lock; nothing to do')
added = 0
for name, version in unrs.get('optionalDependencies', {}).items():
    key = 'node_modules/' + name
    if key in pkgs:
        continue
    suffix = name.split('resolver-binding-', 1)[1]
    pkgs[key] = {'version': version, **meta.get(suffix, {}), 'dev': True, 'license': 'MIT', 'optional': True}
    added += 1
lock['packages'] = dict(sorted(pkgs.items(), key=lambda kv: (kv[0] != '', kv[0])))
with open(path, 'w') as f:
    json.dump(lock, f, indent=2)
    f.write('\n')
print(f'added {added} binding entries')
