"""The names the benchmarks drive the system by, in one place: a renamed function, handler, queue or
environment variable is one line here."""

DISPATCH_FUNCTION, DISPATCH_MODULE = "BriefDispatch", "brief_dispatch"
SEND_FUNCTION, SEND_MODULE = "BriefSend", "brief_send"
SEND_SERVICE = "qunyun.services.brief_send"  # where BriefSend calls render_brief (timed by the briefs benchmark)
SEND_QUEUE, SEND_QUEUE_ENV = "BriefQueue", "BRIEF_QUEUE_URL"
POINTS_FUNCTION, POINTS_MODULE = "PointsApi", "points_api"
SETTLE_FUNCTION, SETTLE_MODULE = "SettlePoints", "settle_points"
MALL_FUNCTION, MALL_MODULE = "MallApi", "mall_api"
QUEUE_ADAPTER = "qunyun.adapters.brief_queue"  # DispatchCheckpoint, the dispatcher's place in the day
