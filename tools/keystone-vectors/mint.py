#!/usr/bin/env python3
"""Golden Fernet token vectors minted by the real Python keystone.

Run with a Python that has keystone installed from PyPI (a throwaway venv; see
README.md beside this file). Two modes:

    mint.py mint [--keys DIR] [--out FILE]
        Create a fresh key repository (keys 0, 1, 2, made by keystone's own
        FernetUtils) and mint one token per case below with keystone's
        TokenFormatter. For each token record the msgpack plaintext (decrypted
        with cryptography's MultiFernet over the same keys) and the fields
        keystone's validate_token() returns. Defaults write
        crates/auth/tests/data/fernet-keys/ and
        crates/auth/tests/data/keystone-vectors.json.

    mint.py verify TOKENS.json [--keys DIR]
        Validate tokens minted by ferrostack with keystone's TokenFormatter.
        TOKENS.json is a list of {"name", "token", "expected": {field: value}}
        with the field names of FIELDS; prints OK/FAIL per token and exits
        non-zero if any failed.

This file is ferrostack's own code: it only calls keystone's public classes.
"""

import argparse
import base64
import datetime
import json
import os
import platform
import sys
import tempfile
import uuid
import warnings

warnings.filterwarnings('ignore')

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(REPO, 'crates', 'auth', 'tests', 'data')
DEFAULT_KEYS = os.path.join(DATA, 'fernet-keys')
DEFAULT_OUT = os.path.join(DATA, 'keystone-vectors.json')
MAX_ACTIVE_KEYS = 3

# The order of keystone's validate_token() return tuple.
FIELDS = [
    'user_id',
    'methods',
    'audit_ids',
    'system',
    'domain_id',
    'project_id',
    'trust_id',
    'federated_group_ids',
    'identity_provider_id',
    'protocol_id',
    'access_token_id',
    'app_cred_id',
    'thumbprint',
    'issued_at',
    'expires_at',
]


def configure(key_repository):
    """Load keystone's CONF from a temporary keystone.conf."""
    import keystone.conf

    conf = tempfile.NamedTemporaryFile(
        'w', prefix='keystone-', suffix='.conf', delete=False
    )
    with conf:
        conf.write(
            '[fernet_tokens]\n'
            f'key_repository = {key_repository}\n'
            f'max_active_keys = {MAX_ACTIVE_KEYS}\n'
            '[identity]\n'
            'default_domain_id = default\n'
        )
    keystone.conf.configure()  # register keystone's options
    keystone.conf.CONF(
        args=[], project='keystone', default_config_files=[conf.name]
    )
    os.unlink(conf.name)
    return keystone.conf.CONF


def audit_id():
    """What keystone's random_urlsafe_str() makes: 22 base64url chars."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes)[:-2].decode('utf-8')


def uid():
    return uuid.uuid4().hex


def cases():
    """(name, payload class name, create_token keyword arguments)."""
    exp = '2030-01-02T03:04:05.000000Z'
    exp2 = '2031-12-31T23:59:59.000000Z'
    c = []

    def add(name, cls, **kw):
        kw.setdefault('expires_at', exp)
        kw.setdefault('audit_ids', [audit_id()])
        c.append((name, cls, kw))

    add('unscoped-uuid-user', 'UnscopedPayload',
        user_id=uid(), methods=['password'])
    add('unscoped-named-user-rescope', 'UnscopedPayload',
        user_id='admin-user', methods=['password', 'token'],
        audit_ids=[audit_id(), audit_id()], expires_at=exp2)
    add('unscoped-hyphenated-uuid-user', 'UnscopedPayload',
        user_id=str(uuid.uuid4()), methods=['password'])
    add('unscoped-uppercase-uuid-user', 'UnscopedPayload',
        user_id=uid().upper(), methods=['external'])
    add('unscoped-unicode-user', 'UnscopedPayload',
        user_id='ユーザー@example.com', methods=['password'])
    add('unscoped-ec2credential', 'UnscopedPayload',
        user_id=uid(), methods=['ec2credential'])
    add('unscoped-all-methods', 'UnscopedPayload',
        user_id=uid(), methods=['external', 'password', 'token', 'oauth1',
                                'mapped', 'application_credential',
                                'ec2credential'])
    add('domain-uuid', 'DomainScopedPayload',
        user_id=uid(), methods=['password'], domain_id=uid())
    add('domain-default', 'DomainScopedPayload',
        user_id='admin-user', methods=['password', 'token'],
        domain_id='default')
    add('project-uuid', 'ProjectScopedPayload',
        user_id=uid(), methods=['password'], project_id=uid())
    add('project-named', 'ProjectScopedPayload',
        user_id='admin-user', methods=['token', 'password'],
        project_id='service-project', audit_ids=[audit_id(), audit_id()])
    add('trust', 'TrustScopedPayload',
        user_id=uid(), methods=['token'], project_id=uid(), trust_id=uid())
    add('trust-named-project', 'TrustScopedPayload',
        user_id='trustee', methods=['password'], project_id='demo',
        trust_id=uid())
    add('federated-unscoped', 'FederatedUnscopedPayload',
        user_id=uuid.uuid4().hex + uuid.uuid4().hex, methods=['mapped'],
        federated_group_ids=[{'id': uid()}, {'id': 'federated-users'}],
        identity_provider_id='myidp', protocol_id='saml2')
    add('federated-unscoped-no-groups', 'FederatedUnscopedPayload',
        user_id=uid(), methods=['mapped', 'token'],
        federated_group_ids=[], identity_provider_id=uid(),
        protocol_id='openid')
    add('federated-project', 'FederatedProjectScopedPayload',
        user_id=uid(), methods=['token', 'mapped'], project_id=uid(),
        federated_group_ids=[{'id': uid()}], identity_provider_id=uid(),
        protocol_id='openid')
    add('federated-domain', 'FederatedDomainScopedPayload',
        user_id=uid(), methods=['mapped'], domain_id='default',
        federated_group_ids=[{'id': 'g1'}, {'id': uid()}],
        identity_provider_id='acme-idp', protocol_id='mapped')
    add('oauth1', 'OauthScopedPayload',
        user_id=uid(), methods=['oauth1'], project_id=uid(),
        access_token_id=uid())
    add('oauth1-named', 'OauthScopedPayload',
        user_id='admin-user', methods=['oauth1'], project_id='admin',
        access_token_id='not-a-uuid-access-token')
    add('system-all', 'SystemScopedPayload',
        user_id=uid(), methods=['password'], system='all')
    add('system-all-named-user', 'SystemScopedPayload',
        user_id='admin-user', methods=['password', 'token'], system='all')
    add('application-credential', 'ApplicationCredentialScopedPayload',
        user_id=uid(), methods=['application_credential'], project_id=uid(),
        app_cred_id=uid())
    add('application-credential-named', 'ApplicationCredentialScopedPayload',
        user_id='admin-user', methods=['application_credential'],
        project_id='admin', app_cred_id='my-app-cred')
    add('oauth2-credentials', 'Oauth2CredentialsScopedPayload',
        user_id=uid(), methods=['application_credential'], project_id=uid(),
        domain_id=uid(),
        thumbprint=base64.urlsafe_b64encode(uuid.uuid4().bytes * 2)
        .decode().rstrip('='))
    add('oauth2-credentials-uuid-thumbprint',
        'Oauth2CredentialsScopedPayload',
        user_id='admin-user', methods=['application_credential'],
        project_id='admin', domain_id='default', thumbprint=uid())
    return c


def setup_keys(key_dir):
    from keystone.common import fernet_utils

    os.makedirs(key_dir, exist_ok=True)
    os.chmod(key_dir, 0o700)
    for name in os.listdir(key_dir):
        if name.isdigit() or name.endswith('.tmp'):
            os.remove(os.path.join(key_dir, name))
    fu = fernet_utils.FernetUtils(key_dir, MAX_ACTIVE_KEYS, 'fernet_tokens')
    me, grp = os.getuid(), os.getgid()
    fu.initialize_key_repository(me, grp)  # keys 0 and 1
    fu.rotate_keys(me, grp)  # keys 0, 1 and 2; 2 is the primary
    names = sorted(os.listdir(key_dir))
    assert names == ['0', '1', '2'], names
    return fu


def fields_of(formatter, token):
    return dict(zip(FIELDS, formatter.validate_token(token)))


def multifernet(key_dir):
    from cryptography import fernet
    from keystone.common import fernet_utils

    keys = fernet_utils.FernetUtils(
        key_dir, MAX_ACTIVE_KEYS, 'fernet_tokens'
    ).load_keys()
    return fernet.MultiFernet([fernet.Fernet(k) for k in keys])


def mint(args):
    key_dir = os.path.abspath(args.keys)
    configure(key_dir)
    setup_keys(key_dir)
    import keystone
    from importlib import metadata
    from keystone.token import token_formatters as tf

    formatter = tf.TokenFormatter()
    mf = multifernet(key_dir)
    vectors = []
    for name, cls_name, kw in cases():
        cls = getattr(tf, cls_name, None)
        if cls is None:
            print(f'skip {name}: keystone has no {cls_name}', file=sys.stderr)
            continue
        token = formatter.create_token(payload_class=cls, **kw)
        padded = tf.TokenFormatter.restore_padding(token).encode()
        plaintext = mf.decrypt(padded)
        vectors.append({
            'name': name,
            'payload_class': cls_name,
            'version': cls.version,
            'create_token': kw,
            'token': token,
            'msgpack_hex': plaintext.hex(),
            'fields': fields_of(formatter, token),
        })
        print(f'minted {name} (version {cls.version})', file=sys.stderr)

    rel = os.path.relpath
    doc = {
        'header': {
            'generator': 'tools/keystone-vectors/mint.py',
            'keystone_version': metadata.version('keystone'),
            'keystone_module': os.path.dirname(keystone.__file__)
            .replace(sys.prefix, '$VENV'),
            'msgpack_version': metadata.version('msgpack'),
            'cryptography_version': metadata.version('cryptography'),
            'python_version': platform.python_version(),
            'date': datetime.datetime.now(datetime.timezone.utc)
            .strftime('%Y-%m-%dT%H:%M:%SZ'),
            'command': 'python tools/keystone-vectors/mint.py mint'
            f' --keys {rel(key_dir, REPO)}'
            f' --out {rel(os.path.abspath(args.out), REPO)}',
            'key_repository': rel(key_dir, REPO),
            'max_active_keys': MAX_ACTIVE_KEYS,
            'auth_methods': list(configure_methods()),
            'default_domain_id': 'default',
            'fields': FIELDS,
        },
        'vectors': vectors,
    }
    with open(args.out, 'w', encoding='utf-8') as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write('\n')
    print(f'wrote {len(vectors)} vectors to {args.out}', file=sys.stderr)


def configure_methods():
    import keystone.conf

    return keystone.conf.CONF.auth.methods


def verify(args):
    configure(os.path.abspath(args.keys))
    from keystone.token import token_formatters as tf

    formatter = tf.TokenFormatter()
    with open(args.tokens, encoding='utf-8') as f:
        items = json.load(f)
    failed = 0
    for item in items:
        name = item.get('name', '?')
        try:
            got = fields_of(formatter, item['token'])
        except Exception as e:  # keystone raises its own exception types
            failed += 1
            print(f'FAIL {name}: keystone rejected the token: {e!r}')
            continue
        diffs = [
            f'{k}: keystone {got.get(k)!r} != expected {v!r}'
            for k, v in item['expected'].items()
            if got.get(k) != v
        ]
        if diffs:
            failed += 1
            print(f'FAIL {name}: ' + '; '.join(diffs))
        else:
            print(f'OK   {name}')
    print(f'{len(items) - failed} passed, {failed} failed')
    return 1 if failed else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = p.add_subparsers(dest='mode', required=True)
    m = sub.add_parser('mint', help='mint golden vectors with keystone')
    m.add_argument('--keys', default=DEFAULT_KEYS)
    m.add_argument('--out', default=DEFAULT_OUT)
    v = sub.add_parser('verify', help='validate ferrostack tokens')
    v.add_argument('tokens')
    v.add_argument('--keys', default=DEFAULT_KEYS)
    args = p.parse_args()
    if args.mode == 'mint':
        mint(args)
        return 0
    return verify(args)


if __name__ == '__main__':
    sys.exit(main())
