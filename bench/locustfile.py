"""Simulated people for ``bench/load.py``: page views, logins, wrong passwords, logouts.

Each simulated person has an account of their own (``load-N``; the bench seeds
them), because one browser login ends the user's other browser sessions. Wrong
passwords are sent without the person's cookies (as from another browser) to
usernames of their own (``victim-N``), which lock after the threshold like any
other.
Every answer is classified by its status, and at the end the counts are written
to ``CAMAUTH_LOAD_COUNTS`` so that the bench can compare the "wrong password"
answers with the failures the database recorded.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections import Counter
from typing import Any

from locust import HttpUser, between, events, task
from requests.adapters import HTTPAdapter

SITE = os.environ.get("CAMAUTH_LOAD_SITE", "auth.example.org")
ORIGIN = f"https://{SITE}"
PASSWORD = os.environ.get("CAMAUTH_LOAD_PASSWORD", "correct horse battery staple")
VICTIMS = int(os.environ.get("CAMAUTH_LOAD_VICTIMS", "20"))
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
counts: Counter[str] = Counter()
account_numbers = itertools.count()


class SiteAdapter(HTTPAdapter):
    """https to the loopback address, saying (SNI) the site's name as a browser would:
    the shipped nginx configuration refuses a handshake for any other name."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = SITE
        super().init_poolmanager(*args, **kwargs)


def as_the_site(session: Any) -> Any:
    session.verify = False  # the bench's own self-signed certificate
    session.mount("https://", SiteAdapter())
    session.headers["Host"] = SITE
    return session


def log_in_as(session: Any, username: str, password: str, name: str) -> Any:
    """GET the login page (its CSRF token), then POST the form; returns the answer."""
    with session.get("/login", name="GET /login", catch_response=True) as page:
        if page.status_code != 200:
            page.failure(f"login page answered {page.status_code}")
        found = CSRF.search(page.text)
    form = {
        "csrf_token": found.group(1) if found else "",
        "username": username,
        "password": password,
        "submit": "submit",
        "__formid__": "login",
        "next": "",
    }
    return session.post(
        "/login",
        data=form,
        headers={"Origin": ORIGIN},
        allow_redirects=False,
        name=name,
        catch_response=True,
    )


class Person(HttpUser):
    wait_time = between(0.1, 0.5)

    def on_start(self) -> None:
        as_the_site(self.client)
        self.number = next(account_numbers)
        self.username = f"load-{self.number}"
        self.logged_in = False

    @task(6)
    def view(self) -> None:
        if not self.logged_in:
            self.log_in()
            return
        with self.client.get(
            "/", name="GET / (logged in)", catch_response=True, allow_redirects=False
        ) as page:
            if page.status_code == 200 and "Signed in as" in page.text:
                counts["view"] += 1
            else:
                counts["view_refused"] += 1
                page.failure(f"home answered {page.status_code}")
                self.logged_in = False

    @task(2)
    def log_in(self) -> None:
        if self.logged_in:
            self.log_out()
        with log_in_as(self.client, self.username, PASSWORD, "POST /login (right)") as answer:
            if answer.status_code == 303:
                counts["login"] += 1
                self.logged_in = True
            else:
                counts["login_refused"] += 1
                answer.failure(f"right password answered {answer.status_code}")

    @task(2)
    def wrong_password(self) -> None:
        victim = f"victim-{self.number % VICTIMS}"
        # from a browser without this person's cookies (as another person's would be)
        own = self.client.cookies.copy()
        self.client.cookies.clear()
        try:
            answer = log_in_as(self.client, victim, "not the password", "POST /login (wrong)")
        finally:
            self.client.cookies = own
        with answer:
            if answer.status_code == 403:
                counts["wrong_recorded"] += 1  # a failure the database must have
                answer.success()
            elif answer.status_code == 429:
                counts["wrong_locked"] += 1  # refused unchecked: nothing recorded
                answer.success()
            else:
                counts["wrong_other"] += 1
                answer.failure(f"wrong password answered {answer.status_code}")

    @task(1)
    def log_out(self) -> None:
        if not self.logged_in:
            return
        with self.client.get("/", name="GET / (logged in)", catch_response=True) as page:
            found = CSRF.search(page.text)
        with self.client.post(
            "/logout",
            data={"csrf_token": found.group(1) if found else ""},
            headers={"Origin": ORIGIN},
            allow_redirects=False,
            name="POST /logout",
            catch_response=True,
        ) as answer:
            if answer.status_code == 303:
                counts["logout"] += 1
                self.logged_in = False
            else:
                answer.failure(f"logout answered {answer.status_code}")


@events.request.add_listener
def count_server_errors(response: Any = None, **_: Any) -> None:
    if response is not None and getattr(response, "status_code", 0) >= 500:
        counts["5xx"] += 1


@events.test_stop.add_listener
def write_counts(**_: Any) -> None:
    target = os.environ.get("CAMAUTH_LOAD_COUNTS")
    if target:
        with open(target, "w") as out:
            json.dump(dict(counts), out)
