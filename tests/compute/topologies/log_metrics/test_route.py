"""Route templating: the documented rules, one row each."""

from __future__ import annotations

import pytest

from squall.compute.topologies.log_metrics.route import template_route


@pytest.mark.parametrize(
    ("target", "route"),
    [
        # the example: numbers and long hex
        ("/users/123/orders/9f86d081884c7d65", "/users/:id/orders/:id"),
        ("/", "/"),
        ("/users/123?expand=orders&page=2", "/users/:id"),
        ("/search?q=/users/123", "/search"),
        ("/docs#section-2", "/docs"),
        ("/blog/", "/blog/"),
        ("//a///b/", "/a/b/"),
        # UUIDs in either case, ObjectIds, short hashes with digits
        ("/u/123e4567-e89b-12d3-a456-426614174000/x", "/u/:id/x"),
        ("/u/123E4567-E89B-12D3-A456-426614174000", "/u/:id"),
        ("/objects/507f1f77bcf86cd799439011", "/objects/:id"),
        ("/commit/a1b2c3d4", "/commit/:id"),
        ("/blob/deadbeefcafebabe", "/blob/:id"),
        # mostly digits: dates, ips, prefixed numbers
        ("/archive/2015-05-17/posts", "/archive/:id/posts"),
        ("/hosts/10.0.0.1/metrics", "/hosts/:id/metrics"),
        ("/orders/order12345", "/orders/:id"),
        ("/instances/i-0123456789abcdef0", "/instances/:id"),
        # random mixed-case tokens
        ("/v/dQw4w9WgXcQ5", "/v/:id"),
        ("/keys/AKIAIOSFODNN7EXAMPLE", "/keys/AKIAIOSFODNN7EXAMPLE"),  # no lower case: a word
        # overlong segments
        ("/x/" + "z" * 65, "/x/:id"),
        ("/x/" + "z" * 64, "/x/" + "z" * 64),
        # words, versions, slugs and static files stay
        ("/api/v2/users", "/api/v2/users"),
        ("/blog/deadbeef", "/blog/deadbeef"),  # hex letters only, short: a word
        ("/video/h264", "/video/h264"),
        ("/presentations/logstash-scale11x/", "/presentations/logstash-scale11x/"),
        ("/blog/site/183.html", "/blog/site/183.html"),
        ("/img/9f86d081884c7d65.png", "/img/9f86d081884c7d65.png"),
        ("/images/web/2009/banner.png", "/images/web/:id/banner.png"),
        ("/a/IMG_20150517.JPG", "/a/IMG_20150517.JPG"),
        # non-path targets
        ("http://example.com/users/7?x=1", "/users/:id"),
        ("https://example.com", "/"),
        ("*", "*"),
        ("example.com:443", "-"),
        ("", "-"),
        # depth cap
        ("/" + "/".join("abcdefghijklmnop"), "/a/b/c/d/e/f/g/h/i/j/k/l/*"),
        ("/" + "/".join("abcdefghijkl") + "/", "/a/b/c/d/e/f/g/h/i/j/k/l/"),
    ],
)
def test_template_route(target: str, route: str) -> None:
    assert template_route(target) == route


def test_apache_log_routes_are_fewer_than_paths(apache_log_lines: list[str]) -> None:
    """On real traffic templating keeps pages apart but folds dated/numbered paths."""
    paths = {line.split('"')[1].split(" ")[1].split("?")[0] for line in apache_log_lines}
    routes = {template_route(p) for p in paths}
    assert "/blog/tags/puppet" in routes
    assert "/images/web/:id/banner.png" in routes
    assert not any(r.startswith("/files/blogposts/2") for r in routes)
    assert len(routes) < len(paths)
