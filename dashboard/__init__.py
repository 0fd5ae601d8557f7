"""The Streamlit dashboard: ``app.py`` routes, ``app_pages/`` holds one file per page."""
