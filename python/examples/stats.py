import lmc

# The servers come from LM_LICENSE_FILE ("27000@licserv"); or name them:
# lmc.Context(["27000@lic1", "27000@lic2", "27000@lic3"], pubkey=...)
with lmc.Context(pubkey="vendor-public.pem", app_version="29.0.1") as ctx:

    @ctx.on_lost
    def lost(seat, error):  # on liblmc's thread: keep it short
        print(f"lost {seat.feature}: {error}")

    try:
        with ctx.checkout("stats", "29.0") as seat:
            print("running with seat", seat.handle, "from", ctx.server)
    except lmc.NoSeats as error:
        print(f"no seat: {error}; {error.hint}")
