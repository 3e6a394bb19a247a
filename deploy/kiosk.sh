#!/bin/sh
# The edgexray screen full-screen on the kiosk's display (Raspberry Pi OS with a desktop session).
# Start it from the session's autostart, e.g. ~/.config/labwc/autostart (Wayland) or
# ~/.config/lxsession/LXDE-pi/autostart (X11): @/opt/edgexray/deploy/kiosk.sh
URL="${EDGEXRAY_URL:-http://127.0.0.1:8080/}"

# Wait for the service (it is ready once the model is loaded and warmed up).
until curl -fsS "${URL%/}/readyz" >/dev/null 2>&1; do sleep 1; done

exec chromium --kiosk --app="$URL" \
    --noerrdialogs --disable-infobars --no-first-run \
    --disable-session-crashed-bubble --disable-translate \
    --disable-background-networking --disable-component-update --disable-sync \
    --overscroll-history-navigation=0 --check-for-update-interval=31536000
