"""The web application (党政机关网站审核管理平台): units, offices, CONAC and operators in a browser.

It sits on top beside the CLI: it may use every area below it (the workflow, the monitor, the
reports, the store) but not the testbed, and nothing but ``badgewatch.cli`` imports it.
``web.app.create_app`` builds it; ``web.permissions`` is the one place deciding who reaches what.
"""
