"""The dashboard of this billing office, for hosting it (Streamlit Community Cloud: this file is the app's
entrypoint, and requirements.txt beside it installs the same Billed as the workflows, with its dashboard).

It runs the dashboard of the installed Billed on this folder. Who may see what is set in the app's Secrets
(BILLED_MODE, BILLED_OWNER_SECRET, ...), never in files here; see Billed's docs/dashboard.md. On your own
machine, run `billed dashboard` instead. Written by `billed init`.
"""

import os
import runpy
from pathlib import Path

from billed.resources import toolkit_path

os.environ.setdefault("BILLED_REPO", str(Path(__file__).resolve().parent))
runpy.run_path(str(toolkit_path("dashboard.py")), run_name="__main__")
