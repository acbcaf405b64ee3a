"""The app's one SocketIO object, bound to the app in ``create_app``."""

from flask_socketio import SocketIO

socketio = SocketIO()
