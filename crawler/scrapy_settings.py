"""Module-level Scrapy settings for the ``scrapy`` command line (``scrapy list``, ``scrapy
check``), built from the same configuration as every badgewatch crawl."""

from badgewatch.config import load_config
from crawler.settings import crawl_settings

globals().update(crawl_settings(load_config()))
