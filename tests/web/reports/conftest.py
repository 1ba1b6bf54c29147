from tests.web.scorecards.conftest import (  # noqa: F401 - shared fixtures
    fresh_catalogue,
    valproate,
    year_of_runs,
)
