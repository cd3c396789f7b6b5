"""Scrapy settings of the compliance crawl, built from badgewatch's configuration."""

from __future__ import annotations

from typing import Any

from badgewatch.config import Config

BOT_NAME = "badgewatch"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
MAX_REDIRECTS = 5  # per URL; each hop is a new request with its own attempts and timeout


def crawl_settings(config: Config) -> dict[str, Any]:
    crawl = config.crawl
    return {
        "BOT_NAME": BOT_NAME,
        "SPIDER_MODULES": SPIDER_MODULES,
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": False,  # the spider reads robots.txt itself, to count what it excludes
        "REMOTE_CONTROL_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",  # the spider dedups itself
        "TWISTED_DNS_RESOLVER": "crawler.resolver.DnspythonResolver",
        "CONCURRENT_REQUESTS": crawl.concurrent_requests,
        # A response yields at most a page item and a site's end; Scrapy 2.19 otherwise starts
        # 100 item tasks per response.
        "CONCURRENT_ITEMS": 1,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.per_host_concurrency,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        "AUTOTHROTTLE_START_DELAY": 0.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.per_host_concurrency),
        # Scrapy 2.19 schedules a slot's downloads before it counts them as transferring, so
        # with no delay CONCURRENT_REQUESTS_PER_DOMAIN is not enforced; any delay makes the
        # slot dispatch one request at a time and re-check its free slots.
        "DOWNLOAD_DELAY": 0.001,
        # A limit on the whole download of one attempt (connect, headers, every byte of the
        # body), not per socket read: a server that drips a byte a second is cut off. Each retry
        # is a new attempt, so a page takes at most download_timeout × (retries + 1).
        "DOWNLOAD_TIMEOUT": crawl.download_timeout,
        "DOWNLOAD_MAXSIZE": crawl.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_ENABLED": crawl.retries > 0,
        "RETRY_TIMES": crawl.retries,
        "REDIRECT_MAX_TIMES": MAX_REDIRECTS,
        "HTTPERROR_ALLOW_ALL": True,
        "URLLENGTH_LIMIT": crawl.max_url_length,
        "DEPTH_LIMIT": 0,
        "DEPTH_PRIORITY": 1,
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        # Last before the download, so redirects (new requests) pass them too.
        "DOWNLOADER_MIDDLEWARES": {
            "crawler.middlewares.StayOnSiteMiddleware": 950,
            "crawler.middlewares.AddressPolicyMiddleware": 960,
        },
        "LOG_LEVEL": "INFO",
        "LOG_INSTALL_ROOT_HANDLER": True,
        "LOGSTATS_INTERVAL": 60.0,
        "BADGEWATCH_CONFIG": config,
    }
