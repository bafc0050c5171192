"""Settings for the flags benchmark's server: the product's, plus a trivial reference view.

The reference view exists only here (ROOT_URLCONF = bench.flags_urls), never in the product.
"""

from contexten_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.flags_urls"
