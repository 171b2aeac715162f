"""`duijie event`: the demo 对接会 and the follow-up reminders."""

from __future__ import annotations

from typing import Annotated

import typer

from scripts.cli.common import console, friendly_errors, open_matcher, ready_engine

app = typer.Typer(help="对接会：演示活动、回访提醒。", no_args_is_help=True)


@app.command("demo")
@friendly_errors
def event_demo(
    enterprises: Annotated[
        int, typer.Option(help="需求方企业数上限（集团成员及主题行业企业）")
    ] = 40,
    teams: Annotated[int, typer.Option(help="成果方团队数")] = 60,
    tables: Annotated[int, typer.Option(help="桌位数")] = 20,
) -> None:
    """在演示数据上（重新）创建钢铁集团专场对接会（集团成员及主题行业企业 × 院所团队，2 场 × 8 轮，20 桌）并生成日程草稿。"""
    from matcher.db import session_scope
    from matcher.events.models import Event
    from tools.demo.events import create_demo_event

    engine = ready_engine()
    matcher = open_matcher(engine)
    with console.status("正在邀请、收集意愿并排程…"):
        event_id = create_demo_event(
            engine, matcher, enterprises=enterprises, teams=teams, tables=tables
        )
    with session_scope(engine, write=False) as session:
        event = session.get(Event, event_id)
        report = event.schedule_report if event else {}
    console.print(
        f"活动 #{event_id} 已创建：{report.get('meetings')} 场洽谈，必须见 {report.get('must_scheduled')}/{report.get('must_feasible')}，"
        f"价值比 {report.get('value_ratio')}，求解 {report.get('solve_s')} 秒；未排入 {len(report.get('unscheduled', []))} 场。"
        f"\n相关度分布：{report.get('relevance')}；无人请求的「相关」以下洽谈 {report.get('below_related_unrequested')} 场；"
        f"空桌位 {report.get('seats_empty')}/{report.get('seats')}，因缺少相关对象空出的洽谈时段 {report.get('unused_for_want_of_relevant_partner')}。"
        f"\n组织方账号 organizer@demo.duijie.cn 登录后在 /events/{event_id} 查看与编辑。"
    )


@app.command("reminders")
@friendly_errors
def event_reminders() -> None:
    """发送到期的对接会回访提醒（1、3、6 个月）；每条只发一次，可由 cron 每日运行。"""
    from matcher.db import session_scope
    from matcher.events.outcomes import send_due_follow_ups

    engine = ready_engine()
    with session_scope(engine) as session:
        sent = send_due_follow_ups(session=session)
    console.print(f"已发送 {sent} 条回访提醒")
