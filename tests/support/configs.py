"""Config files for tests: the small one most tests start from (`config_text`)."""

import textwrap


def config_text(base_url, extra=""):
    """One chat provider `up` at `base_url` (sending a header secret), one alias `fast` (also `fast-too`), key `test`, the admin
    key; secrets by ${ENV} reference (tests.support.secrets.ENV). `extra` is appended as is."""
    return textwrap.dedent(
        f"""\
        admin_key: ${{PLEXUS_ADMIN_KEY}}
        keys:
          test:
            secret: ${{PLEXUS_KEY_TEST}}
        providers:
          up:
            type: chat
            api_base_url: {base_url}/v1
            api_key: ${{UPSTREAM_KEY}}
            headers: {{x-upstream-token: "${{UPSTREAM_HEADER_TOKEN}}"}}
            timeouts: {{connect: 2, read: 5}}
            models:
              up-model: {{pricing: {{input: 1.0, output: 2.0, cached_input: 0.5}}}}
        models:
          fast:
            targets:
              - {{provider: up, model: up-model}}
            additional_aliases: [fast-too]
        """
    ) + extra
