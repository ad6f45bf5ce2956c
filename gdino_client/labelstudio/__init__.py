"""Label Studio: its REST API, the ML backend server and the folder-to-project import."""
