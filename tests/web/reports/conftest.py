from tests.web.scorecards.conftest import year_of_runs  # noqa: F401 - shared fixture
