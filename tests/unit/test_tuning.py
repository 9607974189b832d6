from pathlib import Path

from pgspatial.local.tuning import ServerTuning, render_config

GIB = 1024**3


def test_sizes_follow_the_machine():
    small = ServerTuning.for_machine(2 * GIB)
    large = ServerTuning.for_machine(64 * GIB)
    assert small.effective_cache_size_mb == 1024
    assert large.effective_cache_size_mb == 32 * 1024
    assert small.work_mem_mb == 8
    assert large.work_mem_mb == 64  # capped: per sort/hash node, per connection
    assert large.shared_buffers_mb == 2048


def test_config_has_the_brief_planner_settings_and_preloads_pg_stat_statements():
    text = render_config(
        port=6543, socket_dir=Path("/run/x"), tuning=ServerTuning.for_machine(24 * GIB)
    )
    assert "random_page_cost = 1.1" in text
    assert "shared_preload_libraries = 'pg_stat_statements'" in text
    assert "listen_addresses = '127.0.0.1'" in text
    assert "port = 6543" in text
    assert "unix_socket_directories = '/run/x'" in text
    assert "effective_cache_size = '12288MB'" in text
