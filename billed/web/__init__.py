"""The dashboard's Streamlit pages: `common` (settings, shared widgets), `owner` (every client) and `client` (one
client's portal). The root dashboard.py only decides who may see which; every figure comes from billed.views and
billed.portal, which are tested without Streamlit."""
